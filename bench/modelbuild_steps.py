"""Time the ModelBuild step scripts on the shipped dataset, each run as its own process.

Lays out a temporary stand-in for SageMaker's /opt/ml tree, then runs preprocess, train and
evaluate exactly as their jobs would (script arguments / SM_* variables pointing into it),
packing model.tar.gz between train and evaluate as the training job's upload does. The scripts
run on the Python and libraries of the scikit-learn image the pipeline names, as its jobs do, so
that a comparison with the pipeline measures the local cloud, not two library versions. Prints
each step's wall time and the total, and fails if a step fails or the model misses the threshold.

    python bench/modelbuild_steps.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

MODELBUILD = Path(__file__).resolve().parent.parent / "modelbuild"
SCRIPTS = MODELBUILD / "pipelines" / "scripts"
DATASET = MODELBUILD / "data" / "breast_cancer.csv"
ACCURACY_THRESHOLD = 0.9


def image_python() -> Path:
    """The python3 of the seed image's environment (built first if need be), which the jobs run on."""
    sys.path.insert(0, str(MODELBUILD.parent))
    from localcloud.services.sagemaker.images import environments, table

    version = re.search(r'SKLEARN_FRAMEWORK_VERSION = "([^"]+)"', (MODELBUILD / "pipelines" / "images.py").read_text())
    return environments.prepare(table.IMAGES[version.group(1)], lambda line: print(line, file=sys.stderr)).python


def run(name: str, argv: list[str], env: dict | None = None, python: Path | None = None) -> float:
    """Run one step script in a fresh interpreter; return its wall time in seconds."""
    started = time.perf_counter()
    result = subprocess.run(
        [str(python or sys.executable), *argv],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{name} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    return elapsed


def pack_model(model_dir: Path, archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for item in sorted(model_dir.iterdir()):
            tar.add(item, arcname=item.name)


def run_once(root: Path, dataset: Path = DATASET, python: Path | None = None) -> tuple[dict[str, float], float]:
    """One pass of the three steps under root on ``dataset``; returns per-step times and the test accuracy."""
    python = python or image_python()
    processing = root / "processing"
    data_dir = processing / "input" / "data"
    data_dir.mkdir(parents=True)
    shutil.copy(dataset, data_dir)
    times = {}
    times["preprocess"] = run(
        "preprocess",
        [
            str(SCRIPTS / "preprocess.py"),
            "--input-dir",
            str(data_dir),
            "--output-dir",
            str(processing),
            "--message-file",
            str(root / "output" / "message"),
        ],
        python=python,
    )
    times["train"] = run(
        "train",
        [
            str(SCRIPTS / "training" / "train.py"),
            "--C",
            "1.0",
            "--max_iter",
            "1000",
            "--target_column",
            "target",
        ],
        env={
            "SM_CHANNEL_TRAIN": str(processing / "train"),
            "SM_CHANNEL_VALIDATION": str(processing / "validation"),
            "SM_MODEL_DIR": str(root / "model"),
        },
        python=python,
    )
    pack_model(root / "model", processing / "model" / "model.tar.gz")
    times["evaluate"] = run(
        "evaluate",
        [
            str(SCRIPTS / "evaluate.py"),
            "--model-dir",
            str(processing / "model"),
            "--test-dir",
            str(processing / "test"),
            "--output-dir",
            str(processing / "evaluation"),
            "--accuracy-threshold",
            "0.9",
            "--r2-threshold",
            "0.3",
            "--message-file",
            str(root / "output" / "message"),
        ],
        python=python,
    )
    report = json.loads((processing / "evaluation" / "evaluation.json").read_text())
    return times, report["binary_classification_metrics"]["accuracy"]["value"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="passes to run; the fastest is reported")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    best: dict[str, float] = {}
    accuracy = 0.0
    python = image_python()
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="opt_ml_") as root:
            times, accuracy = run_once(Path(root), python=python)
        for step, seconds in times.items():
            best[step] = min(seconds, best.get(step, float("inf")))

    print(f"ModelBuild step scripts on {DATASET.name} (best of {args.repeat}, fresh process each):")
    for step, seconds in best.items():
        print(f"  {step:<10} {seconds:6.2f} s")
    print(f"  {'total':<10} {sum(best.values()):6.2f} s")
    print(f"  test accuracy {accuracy:.4f} (threshold {ACCURACY_THRESHOLD})")
    return 0 if accuracy >= ACCURACY_THRESHOLD else 1


if __name__ == "__main__":
    sys.exit(main())
