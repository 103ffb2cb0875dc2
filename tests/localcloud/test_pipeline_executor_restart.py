"""The step cache lives in the execution records on disk, so a run before a restart is reused after it."""

from __future__ import annotations

import boto3

from localcloud.core.server import LocalCloud
from tests.localcloud.conftest import reset_moto
from tests.localcloud.test_pipeline_executor import BUCKET, PREPROCESS, ROWS, TRAIN, _cached, _tar, jobs_of, run


def _start(state_dir, monkeypatch) -> LocalCloud:
    """A local cloud on the state folder, as a restart brings it up (moto forgets all but the folder)."""
    reset_moto()
    cloud = LocalCloud(state_dir).start()
    for key, value in cloud.client_environment().items():
        monkeypatch.setenv(key, value)  # put back as it was after the test
    boto3.DEFAULT_SESSION = None
    return cloud


def test_a_run_before_a_restart_is_reused_after_it(tmp_path, monkeypatch):
    cloud = _start(tmp_path / "state", monkeypatch)
    try:
        s3 = cloud.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="data/rows.csv", Body=ROWS.encode())
        s3.put_object(Bucket=BUCKET, Key="code/preprocess.py", Body=PREPROCESS.encode())
        s3.put_object(Bucket=BUCKET, Key="code/train-sourcedir.tar.gz", Body=_tar({"train.py": TRAIN}))
        first_arn, first, first_steps = run(cloud.client("sagemaker"), "cached-across-restarts", _cached("PT1H"))
        assert first["PipelineExecutionStatus"] == "Succeeded", first.get("FailureReason")
    finally:
        cloud.stop()
    cloud = _start(tmp_path / "state", monkeypatch)
    try:
        sagemaker = cloud.client("sagemaker")
        arn, described, steps = run(sagemaker, "cached-across-restarts")
        assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
        for name in ("Preprocess", "Train"):
            assert steps[name]["CacheHitResult"] == {"SourcePipelineExecutionArn": first_arn}
            assert steps[name]["Metadata"] == first_steps[name]["Metadata"]
        assert jobs_of(sagemaker, arn) == []
    finally:
        cloud.stop()
        reset_moto()
