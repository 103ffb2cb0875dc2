"""A job's own writable Python: what it installs (``pip install``, a ``requirements.txt``) is its alone.

A real framework container's Python is writable: a script may ``pip install`` at start, and the
training toolkit installs ``requirements.txt`` before the script. Here every job of an image shares
that image's environment (``images/``), read-only. So each job gets an overlay environment, a folder
of its own mounted at ``JOB_PYTHON`` that is a virtual environment over the shared one (``BasePython``):
its ``python``/``python3``/``pip`` come first on ``PATH``, ``site.addsitedir`` adds the shared
environment's packages after its own, and pip
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
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

JOB_PYTHON = "/opt/job-python"  # where the overlay is mounted in the sandbox
PATH_VALUED = {"find-links", "index-url", "extra-index-url", "cert", "client-cert", "constraint"}
INDEX_VARIABLES = {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"}
PIP_LAUNCHER = """#!{python}
import sys
from pip._internal.cli.main import main
sys.exit(main())
"""


@dataclass(frozen=True)
class BasePython:
    """The shared environment an overlay stands on: its interpreter and the packages it adds after its own."""

    interpreter: Path  # the installation's executable (not a venv's link to it)
    version: str  # major.minor
    site_packages: tuple[str, ...]

    @classmethod
    def host(cls) -> BasePython:
        """The project's venv (the local cloud's own programs)."""
        shared = tuple(p for p in site.getsitepackages() if Path(p).is_dir())
        return cls(Path(sys.executable).resolve(), f"{sys.version_info.major}.{sys.version_info.minor}", shared)

    @classmethod
    def of_image(cls, environment) -> BasePython:
        """An image's environment (``images.ImageEnvironment``)."""
        image = environment.image
        return cls(Path(environment.interpreter), image.python, (str(environment.site_packages),))


def make_overlay(folder: Path, base_python: BasePython | None = None) -> Path:
    """Lay out the overlay venv in ``folder`` (mounted at ``JOB_PYTHON``); returns ``folder``."""
    base_python = base_python or BasePython.host()
    base = base_python.interpreter
    python_version = f"python{base_python.version}"
    bin_dir = folder / "bin"
    packages = folder / "lib" / python_version / "site-packages"
    bin_dir.mkdir(parents=True, exist_ok=True)
    packages.mkdir(parents=True, exist_ok=True)
    (folder / "pyvenv.cfg").write_text(
        f"home = {base.parent}\ninclude-system-site-packages = false\nversion = {base_python.version}\n"
    )
    for name in ("python", "python3", python_version):
        link = bin_dir / name
        if not link.is_symlink():
            link.symlink_to(base)
    for name in ("pip", "pip3"):
        launcher = bin_dir / name
        launcher.write_text(PIP_LAUNCHER.format(python=f"{JOB_PYTHON}/bin/python3"))
        launcher.chmod(0o755)
    shared = base_python.site_packages
    # An "import" line of a .pth file runs: addsitedir also runs the shared venv's own .pth files.
    lines = [f"import site; site.addsitedir({path!r})" for path in shared]
    (packages / "zz-shared-venv.pth").write_text("\n".join(lines) + "\n")
    return folder


def sandbox_path(python_bin_dir: str, system_path: str) -> str:
    """``PATH`` inside the sandbox: the overlay's programs first, then the shared environment's, then
    ``system_path`` (the sandbox's own tools and the system's)."""
    return f"{JOB_PYTHON}/bin:{python_bin_dir}:{system_path}"


def host_pip_settings() -> dict[str, str]:
    """The host pip's effective configuration (its files and ``PIP_*`` variables), as ``PIP_*`` variables.

    Jobs and model servers alike get these (with ``paths_named`` shown read-only): one place."""
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

    def __init__(self, folder: Path, base_python: BasePython | None = None):
        self.folder = make_overlay(folder, base_python)
        self.pip = host_pip_settings()

    def environment(self, python_bin_dir: str, system_path: str) -> dict[str, str]:
        return {**self.pip, "PATH": sandbox_path(python_bin_dir, system_path)}

    def read_only(self) -> list[Path]:
        return paths_named(self.pip)

    def writable(self) -> dict[str, Path]:
        return {JOB_PYTHON: self.folder}
