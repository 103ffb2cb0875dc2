"""Shared fixtures: a moto server standing in for S3/SageMaker, the built pipeline, script runs.

Nothing here imports the SageMaker SDK at module level: tests/scripts/ runs with only the
image's libraries installed (requirements-image.txt).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "pipelines" / "scripts"
TRAINING = SCRIPTS / "training"
SHIPPED_CSV = REPO / "data" / "breast_cancer.csv"
REGION = "us-east-1"
BUCKET = "sagemaker-project-p-test1234"
ROLE = "arn:aws:iam::123456789012:role/service-role/pipeline-role"
GROUP = "demo-p-test1234"
PIPELINE_NAME = "sagemaker-demo"
PREFIX = "demo"


def load_script(relative: str):
    """Import a step script by path (they are standalone files, not package modules).

    The training folder goes on sys.path, as it is for `python train.py` in the training job,
    so train.py finds features.py (and pickled models refer to it by that module name).
    """
    if str(TRAINING) not in sys.path:
        sys.path.insert(0, str(TRAINING))
    path = SCRIPTS / relative
    name = "script_" + path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(relative: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a step script the way its container does: a fresh Python process."""
    return subprocess.run(
        [sys.executable, str(SCRIPTS / relative), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="session")
def aws():
    """A moto server on 127.0.0.1 with the artifact bucket; AWS_ENDPOINT_URL points boto3 at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    settings = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "SAGEMAKER_VALIDATE_ROLE": "false",
    }
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    import boto3

    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    yield settings
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def pipeline(aws):
    from pipelines.pipeline import get_pipeline

    return get_pipeline(
        region=REGION,
        role=ROLE,
        default_bucket=BUCKET,
        model_package_group_name=GROUP,
        pipeline_name=PIPELINE_NAME,
        base_job_prefix=PREFIX,
    )


@pytest.fixture(scope="session")
def definition(pipeline) -> dict:
    """The pipeline definition JSON, built once per test session."""
    return json.loads(pipeline.definition())


def sklearn_dataset(name: str):
    """One of scikit-learn's bundled datasets as a frame with `target` first (no download)."""
    import pandas as pd
    from sklearn import datasets

    bunch = {"wine": datasets.load_wine, "diabetes": datasets.load_diabetes}[name]()
    frame = pd.DataFrame(bunch.data, columns=[c.replace(" ", "_") for c in bunch.feature_names])
    frame.insert(0, "target", bunch.target)
    return frame


def archive_model(model_dir: Path, archive_dir: Path) -> Path:
    """Pack a model directory as SageMaker uploads it: model.tar.gz with the files at its root."""
    archive_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive_dir / "model.tar.gz", "w:gz") as tar:
        for item in sorted(model_dir.iterdir()):
            tar.add(item, arcname=item.name)
    return archive_dir / "model.tar.gz"


# Thresholds the script tests pass to evaluate.py; the pipeline's defaults are tested elsewhere.
THRESHOLDS = {"AccuracyThreshold": 0.5, "R2Threshold": 0.1}


def run_steps(root: Path, csv: Path, **train_options) -> dict:
    """Preprocess -> train -> evaluate on one CSV, laid out as SageMaker would; the artifacts' paths."""
    data_dir = root / "processing" / "input" / "data"
    data_dir.mkdir(parents=True)
    shutil.copy(csv, data_dir)
    load_script("preprocess.py").preprocess(data_dir, root / "processing")
    model_dir = root / "model"
    load_script("training/train.py").train(
        root / "processing" / "train", model_dir, root / "processing" / "validation", **train_options
    )
    archive = archive_model(model_dir, root / "processing" / "model")
    evaluation_dir = root / "processing" / "evaluation"
    load_script("evaluate.py").evaluate(archive.parent, root / "processing" / "test", evaluation_dir, THRESHOLDS)
    return {
        "root": root,
        "splits": root / "processing",
        "model_dir": model_dir,
        "archive": archive,
        "evaluation": evaluation_dir / "evaluation.json",
        "plots": sorted(evaluation_dir.glob("*.svg")),
    }


@pytest.fixture(scope="session")
def step_run(tmp_path_factory) -> dict:
    """The three steps on the shipped (binary) data."""
    return run_steps(tmp_path_factory.mktemp("opt_ml"), SHIPPED_CSV)


@pytest.fixture(scope="session")
def multiclass_run(tmp_path_factory) -> dict:
    """The three steps on scikit-learn's wine data (3 classes)."""
    root = tmp_path_factory.mktemp("wine")
    sklearn_dataset("wine").to_csv(root / "wine.csv", index=False)
    return run_steps(root / "run", root / "wine.csv")


@pytest.fixture(scope="session")
def regression_run(tmp_path_factory) -> dict:
    """The three steps on scikit-learn's diabetes data (a number to predict)."""
    root = tmp_path_factory.mktemp("diabetes")
    sklearn_dataset("diabetes").to_csv(root / "diabetes.csv", index=False)
    return run_steps(root / "run", root / "diabetes.csv")
