"""The Python a sandboxed program runs on: the project's own, or a framework image's environment.

The sandbox shows that Python read-only (``mounts``), puts its programs first on ``PATH``
(``bin_dir``) and starts the API relay with its interpreter (``relay.py`` is standard library only
and runs on any Python 3), so a job's ``python3`` is the image's and nothing of the project's venv is
needed. Programs of the local cloud's own (handlers, builds) use ``host()``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from localcloud.core.sandbox.view import python_paths


@dataclass(frozen=True)
class Runtime:
    bin_dir: str  # first on PATH after any overlay
    interpreter: str  # runs the relay: an executable that works without site-packages (-I -S)
    mounts: tuple[Path, ...]  # what the sandbox shows read-only at its own paths


def host() -> Runtime:
    """The project's venv and its Python installation."""
    return Runtime(str(Path(sys.executable).parent), str(Path(sys.executable).resolve()), tuple(python_paths()))
