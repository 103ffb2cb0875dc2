"""Regenerate the checked-in SDK v2 definitions: ``.venv/bin/python -m tests.localcloud.corpus.regenerate``.

SDK v2 cannot share the project's venv with SDK v3, so this script keeps a second venv with a pinned
SDK v2 (under ``$CORPUS_CACHE_DIR``, default the repository's ignored ``.cache/``), starts a local
cloud in this process, and runs every ``*_v2.py`` builder in that venv against it. A builder prints
its definition; what the SDK uploaded while building it (processing code, ``sourcedir.tar.gz``,
``runproc.sh``) is read back from the local S3 and saved beside the JSON under ``s3/<key>``, so the
tests can upload exactly the objects the definition names without a second venv.

Give builder names (``classic``) to regenerate only those.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CORPUS = Path(__file__).resolve().parent
REPO = CORPUS.parents[2]
DEFINITIONS = CORPUS / "definitions"
SDK_V2 = "sagemaker==2.257.7"
BUCKET = "corpus-artifacts"
DEFINITION_MARK = "--- pipeline definition ---\n"


def cache_dir() -> Path:
    return Path(os.environ.get("CORPUS_CACHE_DIR", REPO / ".cache")).resolve()


def corpus_python() -> Path:
    """The corpus venv's python, made (or remade) when it lacks the pinned SDK v2."""
    venv = cache_dir() / "corpus-venv"
    python = venv / "bin" / "python"
    wanted = SDK_V2.split("==")[1]
    probe = [str(python), "-c", "import sagemaker; print(sagemaker.__version__)"]
    if python.exists():
        found = subprocess.run(probe, capture_output=True, text=True, env=_quiet_env())
        if found.returncode == 0 and found.stdout.strip().splitlines()[-1:] == [wanted]:
            return python
        shutil.rmtree(venv)
    print(f"making {venv} with {SDK_V2} (a few minutes)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", SDK_V2], check=True)
    return python


def _quiet_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "SAGEMAKER_SUPPRESS_V2_WARNING": "1", "PYTHONDONTWRITEBYTECODE": "1", **(extra or {})}


def builders(names: list[str]) -> list[Path]:
    found = sorted(CORPUS.glob("*_v2.py"))
    if names:
        found = [path for path in found if path.stem.removesuffix("_v2") in names]
        missing = set(names) - {path.stem.removesuffix("_v2") for path in found}
        if missing:
            raise SystemExit(
                f"no builder named {sorted(missing)}; builders: {[p.stem for p in CORPUS.glob('*_v2.py')]}"
            )
    return found


def empty_bucket(s3) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])


def save_uploads(s3, folder: Path) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            target = folder / "s3" / item["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())
            keys.append(item["Key"])
    return keys


def build(python: Path, builder: Path, environment: dict[str, str], s3) -> None:
    empty_bucket(s3)
    ran = subprocess.run(
        [str(python), str(builder)], cwd=CORPUS, capture_output=True, text=True, env=_quiet_env(environment)
    )
    if ran.returncode != 0:
        raise SystemExit(f"{builder.name} failed:\n{ran.stderr[-4000:]}")
    try:
        definition = json.loads(ran.stdout[ran.stdout.index(DEFINITION_MARK) + len(DEFINITION_MARK) :])
    except ValueError as error:
        raise SystemExit(
            f"{builder.name} printed no definition after {DEFINITION_MARK!r} ({error}):\n{ran.stdout[-2000:]}"
        ) from None
    folder = DEFINITIONS / builder.stem.removesuffix("_v2")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "definition.json").write_text(json.dumps(definition, indent=1, sort_keys=True) + "\n")
    keys = save_uploads(s3, folder)
    print(f"{folder.relative_to(REPO)}: {len(definition['Steps'])} top-level steps, uploads {keys}")


def main(argv: list[str]) -> None:
    python = corpus_python()
    sys.path.insert(0, str(REPO))
    from localcloud.core.server import LocalCloud

    with tempfile.TemporaryDirectory() as state:
        cloud = LocalCloud(Path(state)).start()
        try:
            s3 = cloud.client("s3")
            s3.create_bucket(Bucket=BUCKET)
            for builder in builders(argv):
                build(python, builder, cloud.client_environment(), s3)
        finally:
            cloud.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
