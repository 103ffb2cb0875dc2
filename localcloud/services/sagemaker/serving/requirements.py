"""A model's ``code/requirements.txt``, installed before the model loads, as the serving container does.

The container pip-installs the inference code's requirements into its own Python before it imports
the script. Here the model server's Python is the shared venv, read-only, so the packages go into
a folder of the server's own (``/opt/ml/serving-packages``, a pip ``--prefix``) that comes first on
``sys.path``; what the venv already has stays "already satisfied". pip reaches the package index
through the server's network (none with ``EnableNetworkIsolation``, so the install fails there, as
it would on AWS), from pip's default index, trusting the system's certificate authorities (the
bundle the sandbox shows from the host) unless ``PIP_CERT`` says otherwise. The host pip's other
settings (extra indexes, wheel folders) do not reach model servers. No requirements file, no cost.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

PREFIX = Path("/opt/ml/serving-packages")
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PIP_TIMEOUT_SECONDS = 600


class InstallFailed(RuntimeError):
    """pip could not install the requirements; the message carries pip's errors."""


def site_packages(prefix: Path) -> Path:
    return prefix / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def install_for_serving(code_dir: str, prefix: Path = PREFIX) -> bool:
    """Install ``code_dir/requirements.txt`` if there is one; returns whether anything was installed."""
    wanted = Path(code_dir) / "requirements.txt"
    if not wanted.is_file():
        return False
    print(f"installing packages from {wanted} ...", flush=True)
    argv = [sys.executable, "-m", "pip", "install", "--prefix", str(prefix), "-r", str(wanted)]
    env = dict(os.environ)
    if "PIP_CERT" not in env and SYSTEM_CA_BUNDLE.is_file():
        env["PIP_CERT"] = str(SYSTEM_CA_BUNDLE)
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, errors="replace", timeout=PIP_TIMEOUT_SECONDS, check=False, env=env
        )
    except subprocess.TimeoutExpired:
        raise InstallFailed(f"installing {wanted} took over {PIP_TIMEOUT_SECONDS} s") from None
    print(done.stdout + done.stderr, end="", flush=True)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).splitlines()
        errors = [line.strip() for line in said if line.lstrip().startswith("ERROR:")]
        detail = " ".join(errors) or (said[-1].strip() if said else f"pip exited with {done.returncode}")
        raise InstallFailed(f"failed to install required packages from code/requirements.txt: {detail}")
    site.addsitedir(str(site_packages(prefix)))  # runs its .pth files too
    added = str(site_packages(prefix))
    sys.path.remove(added)
    sys.path.insert(0, added)
    return True
