"""One trigger, one SageMaker pipeline execution, at most one registered model, whatever is killed when.

The real path: creating the project starts the ModelBuild CodePipeline on the seed commit (as
CodePipeline starts every new pipeline), whose CodeBuild build starts the SageMaker pipeline; the
local cloud is killed (``kill -9``) while the pipeline trains. After the
restart the SageMaker execution resumes and registers its model; the build, whose process died,
is not run again (it would start a second execution and register a second model).
"""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from localcloud.core import config
from localcloud.tools import daemon
from localcloud.tools.lifecycle import Lifecycle, LifecycleError
from localcloud.tools.publish import publish


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(what: str, check, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_kill_during_training_registers_one_model_from_one_execution(tmp_path, cdk_out):
    state = tmp_path / "state"
    port = _free_port()
    status = daemon.start(state, port)
    try:
        life = Lifecycle(lambda service: config.client(status.url, service, state=state))
        publish(cdk_out, status.url, state=state)
        project = life.create_project("once")
        sagemaker = life.client("sagemaker")

        def training():
            executions = sagemaker.list_pipeline_executions(PipelineName=project.sagemaker_pipeline)
            for summary in executions.get("PipelineExecutionSummaries", []):
                steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=summary["PipelineExecutionArn"])
                for step in steps["PipelineExecutionSteps"]:
                    if step["StepName"] == "Train" and step["StepStatus"] == "Executing":
                        return summary["PipelineExecutionArn"]
            return None

        execution = _wait("the SageMaker pipeline to be training", training, 240)
        os.kill(status.pid, signal.SIGKILL)
        _wait("the local cloud to die", lambda: not daemon.status(state).running, 10)
        status = daemon.start(state, port)
        life = Lifecycle(lambda service: config.client(status.url, service, state=state))
        sagemaker = life.client("sagemaker")

        described = _wait(
            "the resumed SageMaker execution to end",
            lambda: (
                (d := sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution))["PipelineExecutionStatus"]
                in ("Succeeded", "Failed")
                and d
            ),
            240,
        )
        assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
        with pytest.raises(LifecycleError, match="the local cloud stopped during build .* not started again"):
            life.wait_for_execution(project.modelbuild_pipeline, project.created, timeout=120)

        executions = sagemaker.list_pipeline_executions(PipelineName=project.sagemaker_pipeline)
        assert [e["PipelineExecutionArn"] for e in executions["PipelineExecutionSummaries"]] == [execution]
        packages = sagemaker.list_model_packages(ModelPackageGroupName=project.group)["ModelPackageSummaryList"]
        assert len(packages) == 1, "one trigger registers at most one model"
        declared = life.client("codepipeline").get_pipeline(name=project.modelbuild_pipeline)["pipeline"]
        [build_project] = [
            a["configuration"]["ProjectName"] for s in declared["stages"] for a in s["actions"] if s["name"] == "Build"
        ]
        builds = life.client("codebuild").list_builds_for_project(projectName=build_project)["ids"]
        assert len(builds) == 1, "the cut-off build is not run again"
        jobs = sagemaker.list_training_jobs()["TrainingJobSummaries"]
        assert "InProgress" not in [job["TrainingJobStatus"] for job in jobs]
    finally:
        daemon.stop(state)
