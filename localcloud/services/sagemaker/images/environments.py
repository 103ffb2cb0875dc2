"""An image's Python environment, built once on first use into a cache that outlives state resets.

Each image version gets a virtual environment of its Python with its libraries, under
``LOCALCLOUD_IMAGES_DIR`` (default ``$XDG_CACHE_HOME/localcloud/images``, else
``~/.cache/localcloud/images``). It is built with uv, or else the image Python's own pip
(installer.py), from the package indexes the host's pip configuration names, into a temporary
folder that is renamed into place only once everything installed; ``localcloud-image.json`` in it
records what was asked for and what was installed. A lock file per image makes concurrent first
uses build once: the others wait and use it.

Besides the image's libraries, the environment holds, in a folder of its own that only model
servers put on their path (``SERVER_PACKAGES``), what the local cloud's model server needs beyond
the standard library and numpy: httptools.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from localcloud.services.sagemaker.images import installer, interpreters
from localcloud.services.sagemaker.images.table import FrameworkImage

CACHE_VARIABLE = "LOCALCLOUD_IMAGES_DIR"
MANIFEST = "localcloud-image.json"
SERVER_PACKAGES = "localcloud-server"
SERVER_REQUIREMENTS = ("httptools>=0.6.1",)
PIP_SECONDS = 1800
NOISE = re.compile(r"^WARNING: Location '.*' is ignored: it is neither a file nor a directory")
FORMAT = 1  # bump when what an environment holds changes: older ones are rebuilt


class ImageUnavailable(RuntimeError):
    """The image's environment is not built and could not be; the message says how to prepare it."""


def cache_root() -> Path:
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "localcloud" / "images"


@dataclass(frozen=True)
class ImageEnvironment:
    """A built environment: where its Python is, and what a sandbox must show of it."""

    image: FrameworkImage
    folder: Path
    base_prefix: Path  # the installation its interpreter belongs to
    interpreter: Path  # that installation's python executable

    @property
    def python(self) -> Path:
        return self.folder / "bin" / "python3"

    @property
    def bin_dir(self) -> Path:
        return self.folder / "bin"

    @property
    def site_packages(self) -> Path:
        return self.folder / "lib" / f"python{self.image.python}" / "site-packages"

    @property
    def server_packages(self) -> Path:
        return self.folder / SERVER_PACKAGES

    def manifest(self) -> dict:
        return json.loads((self.folder / MANIFEST).read_text())

    def mounts(self) -> list[Path]:
        """What a sandboxed program of this image must see: the environment and its Python installation."""
        return [self.folder, self.base_prefix]


def _load(image: FrameworkImage, folder: Path) -> ImageEnvironment | None:
    """The environment in ``folder`` if it is complete and still fits the table's row, else None."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("format") != FORMAT or manifest.get("libraries") != list(image.libraries):
        return None
    interpreter = Path(manifest["interpreter"])
    if not interpreter.exists():
        return None  # its Python was removed: build again with one that is there
    return ImageEnvironment(image, folder, Path(manifest["base_prefix"]), interpreter)


def find(image: FrameworkImage, root: Path | None = None) -> ImageEnvironment | None:
    """The image's environment if it is built (no build, no network)."""
    return _load(image, (root or cache_root()) / image.key)


def prepare_command(image: FrameworkImage) -> str:
    return f"localcloud images prepare {image.version}"


def prepare(
    image: FrameworkImage, on_line: Callable[[str], None] = print, root: Path | None = None
) -> ImageEnvironment:
    """The image's environment, built first if it is not there yet (once, whoever else asks meanwhile)."""
    root = root or cache_root()
    found = _load(image, root / image.key)
    if found is not None:
        return found
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{image.key}.lock", "w") as lock:
        if not _try_lock(lock):
            on_line(f"[image {image.version}] another process is building its environment: waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        found = _load(image, root / image.key)  # built by whoever held the lock
        if found is not None:
            return found
        return _build(image, root, on_line)


def _try_lock(lock) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _build(image: FrameworkImage, root: Path, on_line: Callable[[str], None]) -> ImageEnvironment:
    began = time.monotonic()
    say = lambda text: on_line(f"[image {image.version}] {text}")  # noqa: E731
    interpreter = interpreters.find(image.python, f"the scikit-learn {image.version} image")
    for stale in root.glob(f".building-{image.key}-*"):
        shutil.rmtree(stale, ignore_errors=True)  # a build that died: the lock says no one else is on it
    building = Path(tempfile.mkdtemp(prefix=f".building-{image.key}-", dir=root))
    building.chmod(0o755)  # mkdtemp's 0700 would hide it from the sandbox's unprivileged user
    final = root / image.key
    try:
        say(f"building its environment (Python {image.python}: {interpreter}) in {final}")
        _run([str(interpreter), "-m", "venv", str(building)], {}, say, image)
        python = building / "bin" / "python3"
        base_prefix = _ask(python, "import sys; print(sys.base_prefix)")
        if image.libraries:
            say(f"installing {' '.join(image.libraries)}")
            _run(*installer.install_command(python, list(image.libraries)), say, image)
        say(f"installing the model server's own packages ({' '.join(SERVER_REQUIREMENTS)}) in {SERVER_PACKAGES}/")
        target = building / SERVER_PACKAGES
        _run(*installer.install_command(python, list(SERVER_REQUIREMENTS), target=target), say, image)
        installed = _ask(python, "", argv=[str(python), "-m", "pip", "freeze", "--all"]).splitlines()
        _relocate(building, final)
        manifest = {
            "format": FORMAT,
            "image": image.version,
            "python": _ask(python, "import platform; print(platform.python_version())"),
            "interpreter": str(Path(interpreter).resolve()),
            "base_prefix": str(Path(base_prefix).resolve()),
            "libraries": list(image.libraries),
            "installed": installed,
            "server_packages": list(SERVER_REQUIREMENTS),
            "source": image.source,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (building / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        if final.exists():
            shutil.rmtree(final)  # an incomplete or outdated one: never used, now replaced
        building.rename(final)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    say(f"ready in {time.monotonic() - began:.0f} s")
    built = _load(image, final)
    assert built is not None
    return built


def _run(argv: list[str], environment: dict[str, str], say: Callable[[str], None], image: FrameworkImage) -> None:
    process = subprocess.Popen(
        argv,
        env={**os.environ, **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    said: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        line = line.rstrip()
        if line and not NOISE.search(line):
            said.append(line)
            say(line)
    try:
        code = process.wait(timeout=PIP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        code = -1
    if code != 0:
        first = next((i for i, line in enumerate(said) if line.lstrip().lower().startswith("error:")), None)
        # pip says it on ERROR: lines; uv on an error: line and the lines that explain it
        errors = [line.strip(" ╰─▶│") for line in said[first : first + 4]] if first is not None else []
        detail = " ".join(errors) or (said[-1] if said else f"exit code {code}")
        raise ImageUnavailable(
            f"the environment of the scikit-learn {image.version} image is not built and building it failed "
            f"({detail}). It is built once from the package index; where there is no network, prepare it "
            f"beforehand on a machine that has one with '{prepare_command(image)}'"
        )


def _ask(python: Path, code: str, argv: list[str] | None = None) -> str:
    done = subprocess.run(argv or [str(python), "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _relocate(building: Path, final: Path) -> None:
    """Scripts pip wrote name the temporary folder in their first line (and activate in its text): the final one."""
    old, new = str(building), str(final)
    for path in (building / "bin").iterdir():
        if path.is_symlink() or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        if old in text:
            mode = path.stat().st_mode
            path.write_text(text.replace(old, new))
            path.chmod(mode)
