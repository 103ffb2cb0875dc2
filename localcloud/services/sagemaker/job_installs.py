"""A job's own writable Python: what it installs (``pip install``, a ``requirements.txt``) is its alone.

A real framework container's Python is writable: a script may ``pip install`` at start, and the
training toolkit installs ``requirements.txt`` before the script. Here every job shares the
project's venv, read-only. So each job gets an overlay environment, a folder of its own mounted at
``JOB_PYTHON`` that is a virtual environment over the shared one: its ``python``/``python3``/``pip``
come first on ``PATH``, ``site.addsitedir`` adds the shared venv's packages after its own, and pip
installs into it (a package the shared venv already has is "already satisfied"; an upgrade lands
in the overlay and wins, the shared copy is left alone as "outside environment"). Making it is a
few small files: a job that installs nothing pays nothing measurable.

pip inside the sandbox uses the index configuration of the host's pip (config files and ``PIP_*``
variables, passed in as ``PIP_*`` variables); local indexes and wheel folders it names are made
visible read-only. The network is the sandbox's own (slirp4netns), so packages come from the index
as on the host, and a job with ``EnableNetworkIsolation`` reaches none.
"""

from __future__ import annotations

import site
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

JOB_PYTHON = "/opt/job-python"  # where the overlay is mounted in the sandbox
PYTHON_VERSION = f"python{sys.version_info.major}.{sys.version_info.minor}"
PATH_VALUED = {"find-links", "index-url", "extra-index-url", "cert", "client-cert", "constraint"}
INDEX_VARIABLES = {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"}
PIP_LAUNCHER = """#!{python}
import sys
from pip._internal.cli.main import main
sys.exit(main())
"""


def make_overlay(folder: Path) -> Path:
    """Lay out the overlay venv in ``folder`` (mounted at ``JOB_PYTHON``); returns ``folder``."""
    base = Path(sys.executable).resolve()
    bin_dir = folder / "bin"
    packages = folder / "lib" / PYTHON_VERSION / "site-packages"
    bin_dir.mkdir(parents=True, exist_ok=True)
    packages.mkdir(parents=True, exist_ok=True)
    (folder / "pyvenv.cfg").write_text(
        f"home = {base.parent}\ninclude-system-site-packages = false\n"
        f"version = {'.'.join(map(str, sys.version_info[:3]))}\n"
    )
    for name in ("python", "python3", PYTHON_VERSION):
        link = bin_dir / name
        if not link.is_symlink():
            link.symlink_to(base)
    for name in ("pip", "pip3"):
        launcher = bin_dir / name
        launcher.write_text(PIP_LAUNCHER.format(python=f"{JOB_PYTHON}/bin/python3"))
        launcher.chmod(0o755)
    shared = [p for p in site.getsitepackages() if Path(p).is_dir()]
    # An "import" line of a .pth file runs: addsitedir also runs the shared venv's own .pth files.
    lines = [f"import site; site.addsitedir({path!r})" for path in shared]
    (packages / "zz-shared-venv.pth").write_text("\n".join(lines) + "\n")
    return folder


def sandbox_path(python_bin_dir: str, system_path: str) -> str:
    """``PATH`` inside the sandbox: the overlay's programs first, then the shared venv's, then the system's."""
    return f"{JOB_PYTHON}/bin:{python_bin_dir}:{system_path}"


def host_pip_settings() -> dict[str, str]:
    """The host pip's effective configuration (its files and ``PIP_*`` variables), as ``PIP_*`` variables."""
    from pip._internal.configuration import Configuration, ConfigurationError

    try:
        configuration = Configuration(isolated=False)
        configuration.load()
        items = list(configuration.items())
    except ConfigurationError:
        items = []
    settings: dict[str, str] = {}
    for key, value in items:  # config files first, the environment's variables last: they win, as in pip
        section, _, name = key.partition(".")
        if section not in ("global", "install", ":env:") or not name:
            continue
        settings["PIP_" + name.upper().replace("-", "_")] = str(value)
    return settings


def paths_named(settings: dict[str, str]) -> list[Path]:
    """Local files and folders the pip settings point at (file:// indexes, wheel folders, certificates)."""
    found: list[Path] = []
    for variable, value in settings.items():
        if variable[len("PIP_") :].lower().replace("_", "-") not in PATH_VALUED:
            continue
        for item in value.split():
            path = Path(unquote(urlsplit(item).path)) if item.startswith("file:") else Path(item)
            if variable in INDEX_VARIABLES and path.name == "simple":
                # A PEP 503 index's pages link to files beside it (simple/<name>/ -> ../../files/...).
                path = path.parent
            if path.is_absolute() and path.exists() and path not in found:
                found.append(path)
    return found


class JobPython:
    """One job's overlay: its folder, its environment variables and what the sandbox must show it."""

    def __init__(self, folder: Path):
        self.folder = make_overlay(folder)
        self.pip = host_pip_settings()

    def environment(self, python_bin_dir: str, system_path: str) -> dict[str, str]:
        return {**self.pip, "PATH": sandbox_path(python_bin_dir, system_path)}

    def read_only(self) -> list[Path]:
        return paths_named(self.pip)

    def writable(self) -> dict[str, Path]:
        return {JOB_PYTHON: self.folder}
