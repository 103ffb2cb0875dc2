"""What the corpus tests do with a pipeline: upload what its definition names, run it, deploy its package.

Everything goes through the local cloud's API, as a user's build and deploy scripts would.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pandas as pd
from botocore.exceptions import ClientError
from sklearn import datasets

CORPUS = Path(__file__).resolve().parent
DEFINITIONS = CORPUS / "definitions"
BUCKET = "corpus-artifacts"
ROLE = "arn:aws:iam::123456789012:role/corpus-pipeline-role"
UNSUPPORTED_MARK = "steps are not supported by the local cloud"


class StepTypeNotSupportedYet(AssertionError):
    """The execution failed only because the local cloud does not run one of its step types yet."""


def definition(name: str) -> dict:
    return json.loads((DEFINITIONS / name / "definition.json").read_text())


def all_steps(steps: list[dict]) -> dict[str, dict]:
    """Every step of a definition by name, the ones inside condition branches included."""
    found = {}
    for step in steps:
        found[step["Name"]] = step
        if step["Type"] == "Condition":
            found.update(all_steps(step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"]))
    return found


def checked_in_objects(name: str) -> dict[str, Path]:
    """The SDK's definition-time uploads, saved by regenerate.py under definitions/<name>/s3/<key>."""
    root = DEFINITIONS / name / "s3"
    return {path.relative_to(root).as_posix(): path for path in root.rglob("*") if path.is_file()}


def upload_code(s3, name: str) -> None:
    for key, path in checked_in_objects(name).items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())


def sklearn_frame(loader: str, rows: int) -> pd.DataFrame:
    """One of scikit-learn's bundled datasets as a frame, target first, at most ``rows`` rows."""
    bunch = getattr(datasets, loader)(as_frame=True)
    frame = bunch.frame.rename(columns={bunch.target.name: "target"})
    frame = frame[["target"] + [c for c in frame.columns if c != "target"]]
    return frame.sample(n=min(rows, len(frame)), random_state=0).reset_index(drop=True)


def put_csv(s3, key: str, frame: pd.DataFrame, header: bool = True) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=header)
    s3.put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue().encode())


def wait_execution(sagemaker, arn: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
        if described["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
            return described
        time.sleep(0.3)
    raise TimeoutError(f"pipeline execution {arn} still running after {timeout} s")


def run(cloud, name: str, pipeline_name: str, parameters: dict | None = None) -> tuple[dict, dict[str, dict]]:
    """Create (or update) the pipeline from the checked-in definition, start it and wait for the end."""
    return run_definition(cloud, json.dumps(definition(name)), pipeline_name, parameters)


def run_definition(
    cloud, body: str, pipeline_name: str, parameters: dict | None = None
) -> tuple[dict, dict[str, dict]]:
    sagemaker = cloud.client("sagemaker")
    try:
        sagemaker.create_pipeline(PipelineName=pipeline_name, PipelineDefinition=body, RoleArn=ROLE)
    except ClientError as error:  # SageMaker's answer for an existing name, which the SDKs' upsert reads too
        if "Pipeline names must be unique" not in str(error):
            raise
        sagemaker.update_pipeline(PipelineName=pipeline_name, PipelineDefinition=body, RoleArn=ROLE)
    arn = sagemaker.start_pipeline_execution(
        PipelineName=pipeline_name,
        PipelineParameters=[{"Name": k, "Value": str(v)} for k, v in (parameters or {}).items()],
    )["PipelineExecutionArn"]
    described = wait_execution(sagemaker, arn)
    listed = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    return described, {step["StepName"]: step for step in listed}


def require_success(described: dict, steps: dict[str, dict]) -> None:
    """Assert Succeeded; an execution stopped only by an unsupported step type raises StepTypeNotSupportedYet."""
    if described["PipelineExecutionStatus"] == "Succeeded":
        return
    reason = described.get("FailureReason", "")
    failed = {name: step.get("FailureReason", "") for name, step in steps.items() if step["StepStatus"] == "Failed"}
    if failed and all(UNSUPPORTED_MARK in why for why in failed.values()):
        raise StepTypeNotSupportedYet(f"{reason} (failed steps: {failed})")
    raise AssertionError(f"execution {described['PipelineExecutionStatus']}: {reason}; failed steps: {failed}")


def latest_package(sagemaker, group: str) -> dict:
    listed = sagemaker.list_model_packages(ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending")
    summaries = listed["ModelPackageSummaryList"]
    assert summaries, f"no model package registered in {group}"
    return sagemaker.describe_model_package(ModelPackageName=summaries[0]["ModelPackageArn"])


def deploy_and_invoke(cloud, package_arn: str, endpoint: str, rows: list[list[float]]) -> dict[str, object]:
    """CreateModel from the package -> endpoint; invoke with CSV and JSON; delete the endpoint.

    Returns the decoded answers by request content type."""
    sagemaker = cloud.client("sagemaker")
    runtime = cloud.client("sagemaker-runtime")
    sagemaker.create_model(
        ModelName=endpoint, ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": package_arn}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=endpoint,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": endpoint,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)
    try:
        deadline = time.monotonic() + 120
        while (status := sagemaker.describe_endpoint(EndpointName=endpoint))["EndpointStatus"] == "Creating":
            assert time.monotonic() < deadline, f"endpoint {endpoint} still Creating after 120 s"
            time.sleep(0.3)
        assert status["EndpointStatus"] == "InService", status.get("FailureReason")
        csv_body = "\n".join(",".join(repr(float(v)) for v in row) for row in rows)
        answers = {}
        for content_type, body in (("text/csv", csv_body), ("application/json", json.dumps(rows))):
            response = runtime.invoke_endpoint(
                EndpointName=endpoint, ContentType=content_type, Accept="application/json", Body=body
            )
            answers[content_type] = json.loads(response["Body"].read())
        return answers
    finally:
        sagemaker.delete_endpoint(EndpointName=endpoint)
        sagemaker.delete_endpoint_config(EndpointConfigName=endpoint)
        sagemaker.delete_model(ModelName=endpoint)


def read_object(s3, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def list_keys(s3, uri: str) -> list[str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]
