"""run_pipeline / get_pipeline_definition CLIs: arguments, waiting, step report, exit status."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from conftest import BUCKET, GROUP, REGION, ROLE

from pipelines import get_pipeline_definition, run_pipeline

ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/abc"


class FakeSageMaker:
    """Answers describe_pipeline_execution from a script and lists steps in pages."""

    def __init__(self, statuses=(), pages=()):
        self.statuses = list(statuses)
        self.pages = list(pages)
        self.step_calls = []

    def describe_pipeline_execution(self, PipelineExecutionArn):
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"PipelineExecutionArn": PipelineExecutionArn, "PipelineExecutionStatus": status}

    def list_pipeline_execution_steps(self, **kwargs):
        self.step_calls.append(kwargs)
        return self.pages.pop(0)


def test_waits_until_the_execution_ends_backing_off_to_the_poll_interval():
    client = FakeSageMaker(statuses=["Executing"] * 6 + ["Failed"])
    sleeps = []
    result = run_pipeline.wait_for_execution(client, ARN, 5, 600, sleep=sleeps.append, clock=lambda: 0)
    assert result["PipelineExecutionStatus"] == "Failed"
    assert sleeps == [1.0, 1.5, 2.25, 3.375, 5, 5]


def test_wait_gives_up_at_the_timeout_with_a_hint():
    client = FakeSageMaker(statuses=["Executing"])
    ticks = iter(range(0, 10_000, 100))
    with pytest.raises(TimeoutError, match="still Executing after 300s: raise --timeout-minutes"):
        run_pipeline.wait_for_execution(client, ARN, 1, 300, sleep=lambda s: None, clock=lambda: next(ticks))


def test_steps_are_collected_across_pages_in_execution_order():
    client = FakeSageMaker(
        pages=[
            {"PipelineExecutionSteps": [{"StepName": "Preprocess"}], "NextToken": "t1"},
            {"PipelineExecutionSteps": [{"StepName": "Train"}]},
        ]
    )
    steps = run_pipeline.execution_steps(client, ARN)
    assert [s["StepName"] for s in steps] == ["Preprocess", "Train"]
    assert client.step_calls[0]["SortOrder"] == "Ascending"
    assert client.step_calls[1]["NextToken"] == "t1"


def test_report_of_a_failed_execution_names_the_step_and_reason():
    out = io.StringIO()
    steps = [
        {"StepName": "Preprocess", "StepStatus": "Succeeded"},
        {"StepName": "CheckQuality", "StepStatus": "Succeeded"},
        {
            "StepName": "QualityBelowThreshold",
            "StepStatus": "Failed",
            "FailureReason": "Model accuracy 0.62 is below the AccuracyThreshold of 0.9",
        },
    ]
    code = run_pipeline.report({"PipelineExecutionArn": ARN, "PipelineExecutionStatus": "Failed"}, steps, out)
    assert code == 1
    text = out.getvalue()
    assert "Preprocess" in text and "Succeeded" in text
    assert "Step 'QualityBelowThreshold' failed: Model accuracy 0.62 is below the AccuracyThreshold of 0.9" in text


def test_report_of_a_success_exits_zero():
    out = io.StringIO()
    steps = [{"StepName": "Register", "StepStatus": "Succeeded"}]
    assert run_pipeline.report({"PipelineExecutionStatus": "Succeeded"}, steps, out) == 0
    assert "Register" in out.getvalue()


def test_report_without_a_failed_step_uses_the_execution_reason():
    out = io.StringIO()
    code = run_pipeline.report({"PipelineExecutionStatus": "Stopped", "FailureReason": "stopped by user"}, [], out)
    assert code == 1 and "Pipeline execution stopped: stopped by user" in out.getvalue()


def test_missing_settings_name_their_environment_variables(monkeypatch, capsys):
    for name in (
        "SAGEMAKER_PIPELINE_ROLE_ARN",
        "ARTIFACT_BUCKET",
        "MODEL_PACKAGE_GROUP_NAME",
        "SAGEMAKER_PIPELINE_NAME",
        "SAGEMAKER_PROJECT_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as exit_info:
        run_pipeline.main(["--region", "us-east-1"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    for name in (
        "SAGEMAKER_PIPELINE_ROLE_ARN",
        "ARTIFACT_BUCKET",
        "MODEL_PACKAGE_GROUP_NAME",
        "SAGEMAKER_PIPELINE_NAME",
    ):
        assert name in error


def test_parameters_must_be_a_json_object():
    assert run_pipeline.parse_parameters('{"AccuracyThreshold": 0.95}') == {"AccuracyThreshold": 0.95}
    with pytest.raises(ValueError, match="must be a JSON object"):
        run_pipeline.parse_parameters("[1]")
    with pytest.raises(ValueError, match="must be a JSON object"):
        run_pipeline.parse_parameters("AccuracyThreshold=0.95")
    with pytest.raises(ValueError, match=r"unknown pipeline parameter\(s\) \['AccuracyTreshold'\]"):
        run_pipeline.check_parameter_names({"AccuracyTreshold": 1}, ["AccuracyThreshold"])


def test_project_tags():
    assert run_pipeline.project_tags("demo", "p-1") == [
        {"Key": "sagemaker:project-name", "Value": "demo"},
        {"Key": "sagemaker:project-id", "Value": "p-1"},
    ]


def test_upserts_with_project_tags_and_starts_from_the_codebuild_environment(aws, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_PROJECT_NAME", "demo")
    monkeypatch.setenv("SAGEMAKER_PROJECT_ID", "p-test1234")
    monkeypatch.setenv("SAGEMAKER_PIPELINE_NAME", "sagemaker-demo-cli")
    monkeypatch.setenv("SAGEMAKER_PIPELINE_ROLE_ARN", ROLE)
    monkeypatch.setenv("ARTIFACT_BUCKET", BUCKET)
    monkeypatch.setenv("MODEL_PACKAGE_GROUP_NAME", GROUP)
    out = io.StringIO()
    assert run_pipeline.main(["--no-wait", "--parameters", '{"AccuracyThreshold": 0.95}'], out) == 0
    assert "Started execution arn:aws:sagemaker" in out.getvalue()

    sagemaker = boto3.client("sagemaker", region_name=REGION)
    pipeline = sagemaker.describe_pipeline(PipelineName="sagemaker-demo-cli")
    assert pipeline["RoleArn"] == ROLE
    definition = json.loads(pipeline["PipelineDefinition"])
    assert [s["Name"] for s in definition["Steps"]][-1] == "CheckQuality"
    tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=pipeline["PipelineArn"])["Tags"]}
    assert tags["sagemaker:project-name"] == "demo"
    assert tags["sagemaker:project-id"] == "p-test1234"
    executions = sagemaker.list_pipeline_executions(PipelineName="sagemaker-demo-cli")["PipelineExecutionSummaries"]
    assert len(executions) == 1

    # A second run updates the same pipeline instead of failing on the name.
    assert run_pipeline.main(["--no-wait"], io.StringIO()) == 0
    executions = sagemaker.list_pipeline_executions(PipelineName="sagemaker-demo-cli")["PipelineExecutionSummaries"]
    assert len(executions) == 2


def test_definition_cli_writes_json(aws, tmp_path):
    target = tmp_path / "out" / "pipeline-definition.json"
    code = get_pipeline_definition.main(
        [
            "--region",
            REGION,
            "--role-arn",
            ROLE,
            "--default-bucket",
            BUCKET,
            "--model-package-group-name",
            GROUP,
            "--pipeline-name",
            "p",
            "--base-job-prefix",
            "demo",
            "--input-data-url",
            f"s3://{BUCKET}/elsewhere/data.csv",
            "--file-name",
            str(target),
        ],
        io.StringIO(),
    )
    assert code == 0
    definition = json.loads(target.read_text())
    default = next(p["DefaultValue"] for p in definition["Parameters"] if p["Name"] == "InputDataUrl")
    assert default == f"s3://{BUCKET}/elsewhere/data.csv"
