"""``kill -9`` in the middle of a pipeline run loses nothing: completed steps keep their outputs."""

from __future__ import annotations

import os
import signal
import socket
import time

import boto3
import pytest

from localcloud.core import config
from localcloud.tools import daemon
from tests.localcloud import modelbuild_pipeline as mb


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def background_cloud(tmp_path, monkeypatch):
    port = _free_port()
    status = daemon.start(tmp_path, port)
    for key, value in config.client_environment(status.url, state=tmp_path).items():
        monkeypatch.setenv(key, value)
    yield tmp_path, port, status
    daemon.stop(tmp_path)


def test_kill_9_mid_execution_resumes_without_redoing_completed_steps(background_cloud):
    state_dir, port, status = background_cloud
    sagemaker = boto3.client("sagemaker", endpoint_url=status.url)
    mb.upsert(sagemaker, boto3.client("s3", endpoint_url=status.url))
    arn = mb.start(sagemaker)
    deadline = time.monotonic() + 60
    while mb.steps(sagemaker, arn).get("Preprocess", {}).get("StepStatus") != "Succeeded":
        assert time.monotonic() < deadline, "Preprocess did not finish"
        time.sleep(0.1)
    preprocess_job = mb.steps(sagemaker, arn)["Preprocess"]["Metadata"]["ProcessingJob"]["Arn"]

    os.kill(status.pid, signal.SIGKILL)
    while daemon.status(state_dir).running:
        time.sleep(0.02)
    restarted = daemon.start(state_dir, port)
    assert restarted.pid != status.pid

    described = mb.wait(sagemaker, arn)
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    steps = mb.steps(sagemaker, arn)
    assert steps["Preprocess"]["Metadata"]["ProcessingJob"]["Arn"] == preprocess_job
    assert steps["Preprocess"]["AttemptCount"] == 1, "a completed step must not run again"
    assert steps["Register"]["StepStatus"] == "Succeeded"
    packages = sagemaker.list_model_packages(ModelPackageGroupName=mb.GROUP)["ModelPackageSummaryList"]
    assert len(packages) == 1
    trainings = sagemaker.list_training_jobs()["TrainingJobSummaries"]
    assert "InProgress" not in [job["TrainingJobStatus"] for job in trainings], "a cut-off job must end"
    for job in trainings:
        if job["TrainingJobStatus"] == "Failed":
            reason = sagemaker.describe_training_job(TrainingJobName=job["TrainingJobName"])["FailureReason"]
            assert "the local cloud stopped while this job ran" in reason
