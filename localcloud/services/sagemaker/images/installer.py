"""What installs an image's libraries: uv when the local cloud's venv has it, else the image Python's pip.

An image's environment is built once per machine, but on a fresh one (a new laptop, every CI run)
that is several images at once, and uv installs the same pins in about half the time pip takes.
uv does not read pip's configuration, so the host pip's settings (job_installs.host_pip_settings,
the one place they are read) are handed to it as flags: the same indexes, wheel folders,
constraints and certificate, and pip's rule of taking the best version across every index. A
machine without uv (the local cloud run outside its venv) builds with pip, which reads its
configuration itself.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from localcloud.services.sagemaker import job_installs

LIST_FLAGS = {"PIP_EXTRA_INDEX_URL": "--extra-index-url", "PIP_FIND_LINKS": "--find-links", "PIP_CONSTRAINT": "-c"}


def uv() -> str | None:
    """The uv beside the local cloud's Python (make install puts it there), or one on PATH."""
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.is_file() else shutil.which("uv")


def install_command(python: Path, packages: list[str], target: Path | None = None) -> tuple[list[str], dict[str, str]]:
    """The command (and extra environment) that installs ``packages`` for ``python``, or into ``target``."""
    where = ["--target", str(target)] if target else []
    found = uv()
    if found is None:
        pip = [str(python), "-m", "pip", "--disable-pip-version-check", "--no-input"]
        return [*pip, "install", "--progress-bar", "off", *where, *packages], {}
    settings = job_installs.host_pip_settings()
    flags = ["--index-strategy", "unsafe-best-match", "--compile-bytecode"]
    if settings.get("PIP_NO_INDEX", "").lower() in ("1", "true", "yes", "on"):
        flags += ["--no-index"]
    if "PIP_INDEX_URL" in settings:
        flags += ["--index-url", settings["PIP_INDEX_URL"]]
    for variable, flag in LIST_FLAGS.items():
        for value in settings.get(variable, "").split():
            if not (flag == "--find-links" and not Path(value).exists() and "://" not in value):
                flags += [flag, value]  # pip passes over a wheel folder that is not there; uv would fail
    environment = {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    if "PIP_CERT" in settings:
        environment["SSL_CERT_FILE"] = settings["PIP_CERT"]
    if "PIP_DEFAULT_TIMEOUT" in settings:
        environment["UV_HTTP_TIMEOUT"] = settings["PIP_DEFAULT_TIMEOUT"]
    return [found, "pip", "install", "--python", str(python), *flags, *where, *packages], environment
