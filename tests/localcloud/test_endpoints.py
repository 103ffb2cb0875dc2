"""Local SageMaker endpoints: a registered model really serves, through boto3, like on AWS."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import boto3
import joblib
import numpy as np
import pytest
from botocore.exceptions import ClientError
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from localcloud.core.credentials import read as read_credentials
from localcloud.core.server import LocalCloud
from localcloud.services.sagemaker.endpoints import MAX_PAYLOAD_BYTES
from localcloud.services.sagemaker.serving.unix import SocketFolder
from tests.localcloud.conftest import reset_moto
from tests.localcloud.stack_waits import settled_stack

REPO = Path(__file__).resolve().parents[2]
INFERENCE_SCRIPT = REPO / "modelbuild" / "pipelines" / "scripts" / "training" / "inference.py"
BUCKET = "endpoint-models"
ROLE = "arn:aws:iam::123456789012:role/model-execution"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
SERVING_ENV = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}


# the model and its archive ---------------------------------------------------------------
@pytest.fixture(scope="module")
def dataset():
    data = load_breast_cancer()
    return data.data, data.target


@pytest.fixture(scope="module")
def model(dataset):
    features, labels = dataset
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(features, labels)


def make_archive(
    folder: Path, model=None, script: Path | None = INFERENCE_SCRIPT, raw_model: bytes | None = None
) -> Path:
    """A model.tar.gz as the training step uploads it: model.joblib at the root, code/inference.py."""
    content = folder / "content"
    (content / "code").mkdir(parents=True)
    if model is not None:
        joblib.dump(model, content / "model.joblib")
    if raw_model is not None:
        (content / "model.joblib").write_bytes(raw_model)
    if script is not None:
        assert script.is_file(), f"the training step's inference script is missing at {script}"
        shutil.copy(script, content / "code" / "inference.py")
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(content.rglob("*")):
            tar.add(path, arcname=path.relative_to(content).as_posix(), recursive=False)
    return archive


# a local cloud that the tests can restart --------------------------------------------------
class Local:
    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.cloud = LocalCloud(state_dir).start()
        self._saved = {k: os.environ.get(k) for k in self.cloud.client_environment()}
        os.environ.update(self.cloud.client_environment())

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.cloud.url, region_name="us-east-1")

    def restart(self) -> None:
        """As if the process had died and come back: only the state folder remains."""
        self.cloud.stop()
        reset_moto()
        self.cloud = LocalCloud(self.state_dir).start()
        os.environ.update(self.cloud.client_environment())

    def close(self) -> None:
        self.cloud.stop()
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_moto()


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    reset_moto()
    instance = Local(tmp_path_factory.mktemp("endpoints-state"))
    yield instance
    instance.close()


@pytest.fixture(scope="module")
def artifact(local, model, tmp_path_factory):
    s3 = local.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    archive = make_archive(tmp_path_factory.mktemp("model"), model)
    s3.upload_file(str(archive), BUCKET, "training/output/model.tar.gz")
    return f"s3://{BUCKET}/training/output/model.tar.gz"


@pytest.fixture(scope="module")
def package_arn(local, artifact):
    """A model package registered the way the ModelBuild pipeline registers it."""
    sm = local.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="endpoint-tests")
    return sm.create_model_package(
        ModelPackageGroupName="endpoint-tests",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": artifact, "Environment": SERVING_ENV}],
            "SupportedContentTypes": ["text/csv", "application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]


def wait_settled(sm, name: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        description = sm.describe_endpoint(EndpointName=name)
        if description["EndpointStatus"] not in ("Creating", "Updating") or time.monotonic() > deadline:
            return description
        time.sleep(0.1)


def create_endpoint(local, name: str, variants: list[tuple[str, dict, float]]) -> dict:
    """Model(s) -> endpoint config -> endpoint; ``variants`` are (variant, container, weight)."""
    sm = local.client("sagemaker")
    production = []
    for variant, container, weight in variants:
        sm.create_model(ModelName=f"{name}-{variant}", ExecutionRoleArn=ROLE, Containers=[container])
        production.append(
            {
                "VariantName": variant,
                "ModelName": f"{name}-{variant}",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": weight,
            }
        )
    sm.create_endpoint_config(EndpointConfigName=f"{name}-config", ProductionVariants=production)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    return wait_settled(sm, name)


def read_sockets(socket_file: Path) -> list[Path]:
    """A model server's worker sockets: named in its socket file, lying beside it."""
    return [socket_file.parent / name for name in socket_file.read_text().split()]


def server_sockets(local, name: str) -> dict[str, list[Path]]:
    """Where each variant's model server workers listen (read from its folder, as an operator would)."""
    sockets = {}
    for socket_file in (local.state_dir / "endpoints" / "us-east-1" / name).glob("*/*/ml/server-sockets"):
        sockets[socket_file.parent.parent.name] = read_sockets(socket_file)
    return sockets


def stops_soon(sockets: list[Path], within: float = 10.0) -> bool:
    """True once no worker accepts connections: an old fleet is drained and stopped right after the
    endpoint is InService on the new one, so on a loaded machine it can take a moment."""
    deadline = time.monotonic() + within
    while not refuses_connections(sockets) and time.monotonic() < deadline:
        time.sleep(0.05)
    return refuses_connections(sockets)


def refuses_connections(sockets: list[Path]) -> bool:
    """True when no worker of a model server accepts connections any more."""
    for path in sockets:
        try:
            folder = SocketFolder(path.parent)  # a state folder's paths can be too long for an address
        except OSError:
            continue
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(1)
                probe.connect(folder.address(path.name))
            return False
        except OSError:
            pass
        finally:
            folder.close()
    return True


def csv_rows(rows: np.ndarray) -> str:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in rows)


def invoke(local, name: str, body, content_type: str = "text/csv", **extra) -> tuple[dict, dict]:
    response = local.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=name, Body=body, ContentType=content_type, Accept="application/json", **extra
    )
    return json.loads(response["Body"].read()), response


@pytest.fixture(scope="module")
def endpoint(local, package_arn):
    description = create_endpoint(local, "pkg-endpoint", [("AllTraffic", {"ModelPackageName": package_arn}, 1.0)])
    assert description["EndpointStatus"] == "InService", description.get("FailureReason")
    return "pkg-endpoint"


# serving ------------------------------------------------------------------------------------
def test_registered_package_serves_the_same_predictions_as_in_process(local, endpoint, model, dataset):
    features, _ = dataset
    rows = features[:25]
    expected = model.predict_proba(rows)

    by_csv, response = invoke(local, endpoint, csv_rows(rows))
    by_json, _ = invoke(local, endpoint, json.dumps({"instances": rows.tolist()}), "application/json")
    bare_json, _ = invoke(local, endpoint, json.dumps(rows[:2].tolist()), "application/json")

    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    for answer in (by_csv, by_json):
        assert [p["label"] for p in answer["predictions"]] == model.predict(rows).tolist()
        got = np.array([[p["probabilities"]["0"], p["probabilities"]["1"]] for p in answer["predictions"]])
        np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert [p["label"] for p in bare_json["predictions"]] == model.predict(rows[:2]).tolist()


def test_model_error_carries_the_models_message(local, endpoint):
    with pytest.raises(ClientError) as raised:
        invoke(local, endpoint, "1.0,2.0,3.0")
    error = raised.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert "expected 30 feature values per row, got 3" in error["Error"]["Message"]
    assert error["OriginalStatusCode"] == 500  # whatever the script raises, as the container answers it
    assert "expected 30 feature values" in error["OriginalMessage"]
    group, _, stream = error["LogStreamArn"].partition(":log-group:")[2].partition(":log-stream:")
    assert group == f"/aws/sagemaker/Endpoints/{endpoint}" and re.fullmatch(r"AllTraffic/i-[0-9a-f]{17}", stream)
    assert f"stream {stream}" in error["Error"]["Message"]
    # the stream it names is the answering instance's, and holds the model's traceback
    logs, deadline, messages = local.client("logs"), time.monotonic() + 10, []
    while time.monotonic() < deadline and not any("expected 30 feature values" in m for m in messages):
        time.sleep(0.3)
        messages = [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]]
    assert any("expected 30 feature values" in m for m in messages), messages


def test_payload_over_six_megabytes_is_refused_before_the_model(local, endpoint):
    with pytest.raises(ClientError) as raised:
        invoke(local, endpoint, b"1" * (MAX_PAYLOAD_BYTES + 1))
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert str(MAX_PAYLOAD_BYTES) in error["Message"] and "6 MB" in error["Message"]
    # at the limit itself the request reaches the model (which rejects it as a bad row)
    with pytest.raises(ClientError) as at_limit:
        invoke(local, endpoint, b"1" * MAX_PAYLOAD_BYTES)
    assert at_limit.value.response["Error"]["Code"] == "ModelError"


def test_unknown_endpoint_is_a_validation_error(local, endpoint):
    with pytest.raises(ClientError) as raised:
        invoke(local, "no-such-endpoint", "1,2")
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert "Endpoint no-such-endpoint of account 123456789012 not found" in raised.value.response["Error"]["Message"]


def test_model_server_output_reaches_cloudwatch_logs(local, endpoint):
    logs = local.client("logs")
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    deadline = time.monotonic() + 10
    messages: list[str] = []
    while time.monotonic() < deadline and not any("listening" in m for m in messages):
        time.sleep(0.3)
        try:
            [stream] = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="AllTraffic/")["logStreams"]
            events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True)
        except (ClientError, ValueError):
            continue
        messages = [e["message"] for e in events["events"]]
    assert any("model server listening on worker-0.sock" in m for m in messages), messages


# failures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def failed_endpoint(local, artifact) -> dict:
    """An endpoint whose model archive is not there: it fails before any model server starts."""
    container = {
        "Image": IMAGE,
        "ModelDataUrl": f"s3://{BUCKET}/nowhere/model.tar.gz",
        "Environment": SERVING_ENV,
    }
    return create_endpoint(local, "missing-artifact", [("AllTraffic", container, 1.0)])


def test_missing_artifact_fails_the_endpoint_with_the_reason(local, failed_endpoint):
    description = failed_endpoint
    assert description["EndpointStatus"] == "Failed"
    assert f"s3://{BUCKET}/nowhere/model.tar.gz does not exist" in description["FailureReason"]
    with pytest.raises(ClientError) as raised:
        invoke(local, "missing-artifact", "1,2")
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert "Failed, not InService" in raised.value.response["Error"]["Message"]


def test_archive_without_the_inference_script_fails_naming_it(local, model, tmp_path):
    archive = make_archive(tmp_path, model, script=None)
    local.client("s3").upload_file(str(archive), BUCKET, "no-script/model.tar.gz")
    container = {
        "Image": IMAGE,
        "ModelDataUrl": f"s3://{BUCKET}/no-script/model.tar.gz",
        "Environment": SERVING_ENV,
    }
    description = create_endpoint(local, "no-script", [("AllTraffic", container, 1.0)])
    assert description["EndpointStatus"] == "Failed"
    assert (
        "inference script inference.py (SAGEMAKER_PROGRAM) is not in code/ of model.tar.gz"
        in description["FailureReason"]
    )


def test_model_that_cannot_load_fails_with_the_servers_last_words(local, tmp_path):
    archive = make_archive(tmp_path, raw_model=b"not a pickle", script=INFERENCE_SCRIPT)
    local.client("s3").upload_file(str(archive), BUCKET, "corrupt/model.tar.gz")
    container = {
        "Image": IMAGE,
        "ModelDataUrl": f"s3://{BUCKET}/corrupt/model.tar.gz",
        "Environment": SERVING_ENV,
    }
    description = create_endpoint(local, "corrupt-model", [("AllTraffic", container, 1.0)])
    assert description["EndpointStatus"] == "Failed"
    reason = description["FailureReason"]
    assert "model server of variant AllTraffic exited with code 1" in reason
    assert "loading the model failed" in reason


def test_the_models_environment_sets_the_number_of_server_workers(local, artifact, dataset):
    workers = {**SERVING_ENV, "SAGEMAKER_MODEL_SERVER_WORKERS": "3"}
    container = {"Image": IMAGE, "ModelDataUrl": artifact, "Environment": workers}
    assert create_endpoint(local, "three-workers", [("AllTraffic", container, 1.0)])["EndpointStatus"] == "InService"
    assert len(server_sockets(local, "three-workers")["AllTraffic"]) == 3
    runtime = local.client("sagemaker-runtime")
    response = runtime.invoke_endpoint(
        EndpointName="three-workers", Body=csv_rows(dataset[0][:2]), ContentType="text/csv"
    )
    assert len(json.loads(response["Body"].read())["predictions"]) == 2

    bad = {**SERVING_ENV, "SAGEMAKER_MODEL_SERVER_WORKERS": "many"}
    container = {"Image": IMAGE, "ModelDataUrl": artifact, "Environment": bad}
    description = create_endpoint(local, "bad-workers", [("AllTraffic", container, 1.0)])
    assert description["EndpointStatus"] == "Failed"
    assert (
        "SAGEMAKER_MODEL_SERVER_WORKERS must be a whole number of at least 1, got 'many'"
        in description["FailureReason"]
    )


# updates, variants, deletion -------------------------------------------------------------------
def test_update_is_blue_green_and_a_failed_update_keeps_serving(local, package_arn, artifact, model, dataset):
    sm = local.client("sagemaker")
    name = "blue-green"
    container = {"ModelPackageName": package_arn}
    created = create_endpoint(local, name, [("Blue", container, 1.0)])
    assert created["EndpointStatus"] == "InService", created.get("FailureReason")
    blue_sockets = server_sockets(local, name)["Blue"]

    # two variants, weighted 0/1 so every untargeted request goes to Green
    sm.create_model(ModelName="green-model", ExecutionRoleArn=ROLE, Containers=[container])
    sm.create_endpoint_config(
        EndpointConfigName="green-config",
        ProductionVariants=[
            {
                "VariantName": "Green",
                "ModelName": "green-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            },
            {
                "VariantName": "Canary",
                "ModelName": "green-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 0.0,
            },
        ],
    )
    sm.update_endpoint(EndpointName=name, EndpointConfigName="green-config")
    during = sm.describe_endpoint(EndpointName=name)
    assert during["EndpointStatus"] == "Updating"
    assert during["PendingDeploymentSummary"]["EndpointConfigName"] == "green-config"
    _, served_during = invoke(local, name, csv_rows(dataset[0][:1]))  # the old fleet serves meanwhile
    assert served_during["InvokedProductionVariant"] == "Blue"

    after = wait_settled(sm, name)
    assert after["EndpointStatus"] == "InService", after.get("FailureReason")
    assert after["EndpointConfigName"] == "green-config", after.get("FailureReason")
    assert "FailureReason" not in after
    assert stops_soon(blue_sockets), "the old fleet must be stopped once traffic moved"
    variants = {invoke(local, name, csv_rows(dataset[0][:1]))[1]["InvokedProductionVariant"] for _ in range(8)}
    assert variants == {"Green"}
    answer, targeted = invoke(local, name, csv_rows(dataset[0][:3]), TargetVariant="Canary")
    assert targeted["InvokedProductionVariant"] == "Canary"
    assert [p["label"] for p in answer["predictions"]] == model.predict(dataset[0][:3]).tolist()
    with pytest.raises(ClientError) as unknown_variant:
        invoke(local, name, csv_rows(dataset[0][:1]), TargetVariant="Purple")
    assert "Target variant Purple does not exist" in unknown_variant.value.response["Error"]["Message"]

    # an update whose model cannot be fetched fails; Green keeps serving
    sm.create_model(
        ModelName="broken-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": f"s3://{BUCKET}/missing/model.tar.gz",
            "Environment": SERVING_ENV,
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName="broken-config",
        ProductionVariants=[
            {
                "VariantName": "Broken",
                "ModelName": "broken-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.update_endpoint(EndpointName=name, EndpointConfigName="broken-config")
    rolled_back = wait_settled(sm, name)
    assert rolled_back["EndpointStatus"] == "InService"
    assert rolled_back["EndpointConfigName"] == "green-config"
    assert "Update to endpoint configuration broken-config failed" in rolled_back["FailureReason"]
    assert invoke(local, name, csv_rows(dataset[0][:1]))[1]["InvokedProductionVariant"] == "Green"

    sockets = server_sockets(local, name)
    sm.delete_endpoint(EndpointName=name)
    assert sockets and all(refuses_connections(paths) for paths in sockets.values())
    with pytest.raises(ClientError):
        sm.describe_endpoint(EndpointName=name)


def test_update_of_an_endpoint_that_is_not_in_service_is_refused(local, failed_endpoint):
    sm = local.client("sagemaker")
    assert failed_endpoint["EndpointStatus"] == "Failed"
    with pytest.raises(ClientError) as raised:
        sm.update_endpoint(EndpointName="missing-artifact", EndpointConfigName="missing-artifact-config")
    assert "while it is Failed" in raised.value.response["Error"]["Message"]


def _stack_template(package_arn: str, variant: str) -> str:
    return json.dumps(
        {
            "Resources": {
                "Model": {
                    "Type": "AWS::SageMaker::Model",
                    "Properties": {
                        "ExecutionRoleArn": ROLE,
                        "PrimaryContainer": {"ModelPackageName": package_arn},
                    },
                },
                "Config": {
                    "Type": "AWS::SageMaker::EndpointConfig",
                    "Properties": {
                        "ProductionVariants": [
                            {
                                "VariantName": variant,
                                "ModelName": {"Fn::GetAtt": ["Model", "ModelName"]},
                                "InitialInstanceCount": 1,
                                "InstanceType": "ml.m5.large",
                                "InitialVariantWeight": 1.0,
                            }
                        ]
                    },
                },
                "Endpoint": {
                    "Type": "AWS::SageMaker::Endpoint",
                    "Properties": {
                        "EndpointName": "stack-endpoint",
                        "EndpointConfigName": {"Fn::GetAtt": ["Config", "EndpointConfigName"]},
                        "Tags": [{"Key": "variant", "Value": variant}],
                    },
                },
            },
            "Outputs": {"EndpointName": {"Value": {"Fn::GetAtt": ["Endpoint", "EndpointName"]}}},
        }
    )


def test_cloudformation_stack_endpoint_serves_updates_and_stops_with_the_stack(local, package_arn, model, dataset):
    cfn, sm = local.client("cloudformation"), local.client("sagemaker")
    cfn.create_stack(StackName="endpoint-stack", TemplateBody=_stack_template(package_arn, "AllTraffic"))
    outputs = settled_stack(cfn, "endpoint-stack")["Outputs"]
    name = outputs[0]["OutputValue"]
    assert wait_settled(sm, name)["EndpointStatus"] == "InService"
    answer, response = invoke(local, name, csv_rows(dataset[0][:4]))
    assert [p["label"] for p in answer["predictions"]] == model.predict(dataset[0][:4]).tolist()
    assert response["InvokedProductionVariant"] == "AllTraffic"

    cfn.update_stack(StackName="endpoint-stack", TemplateBody=_stack_template(package_arn, "Updated"))
    assert settled_stack(cfn, "endpoint-stack")["StackStatus"] == "UPDATE_COMPLETE"
    assert wait_settled(sm, name)["EndpointStatus"] == "InService"
    assert invoke(local, name, csv_rows(dataset[0][:1]))[1]["InvokedProductionVariant"] == "Updated"

    sockets = server_sockets(local, name)
    cfn.delete_stack(StackName="endpoint-stack")
    assert settled_stack(cfn, "endpoint-stack") is None
    assert sockets and all(refuses_connections(paths) for paths in sockets.values())


# restarts ---------------------------------------------------------------------------------------
def test_endpoint_serves_again_after_a_restart(local, endpoint, failed_endpoint, model, dataset):
    old_sockets = server_sockets(local, endpoint)["AllTraffic"]
    local.restart()
    assert refuses_connections(old_sockets)
    answer, _ = invoke(local, endpoint, csv_rows(dataset[0][:5]))  # waits for the server to be back
    assert [p["label"] for p in answer["predictions"]] == model.predict(dataset[0][:5]).tolist()
    description = local.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    assert description["EndpointStatus"] == "InService"
    failed = local.client("sagemaker").describe_endpoint(EndpointName="missing-artifact")
    assert failed["EndpointStatus"] == "Failed", "a failed endpoint stays failed across restarts"


def _start_server_process(state_dir: Path) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    process = subprocess.Popen(
        [sys.executable, "-m", "localcloud.core.server", "--state-dir", str(state_dir), "--port", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    line = process.stdout.readline()
    assert "listening on" in line, line + process.stdout.read() if process.poll() is not None else line
    return process, line.split("listening on ", 1)[1].split()[0]


def test_endpoint_comes_back_after_kill_9_of_the_local_cloud(tmp_path, model, dataset):
    """A separate local cloud process, killed hard: its model server must not outlive it."""
    state_dir = tmp_path / "state"
    archive = make_archive(tmp_path / "model", model)
    process, url = _start_server_process(state_dir)
    key = read_credentials(state_dir)
    credentials = {"aws_access_key_id": key.access_key_id, "aws_secret_access_key": key.secret_access_key}
    try:
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", **credentials)
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(archive), BUCKET, "model.tar.gz")
        sm = boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1", **credentials)
        sm.create_model(
            ModelName="m",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": IMAGE,
                "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz",
                "Environment": SERVING_ENV,
            },
        )
        sm.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "m",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
        sm.create_endpoint(EndpointName="survivor", EndpointConfigName="c")
        assert wait_settled(sm, "survivor")["EndpointStatus"] == "InService"
        sockets = read_sockets(next(state_dir.glob("endpoints/us-east-1/survivor/*/AllTraffic/ml/server-sockets")))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 10
    while not refuses_connections(sockets) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert refuses_connections(sockets), "the model server outlived the local cloud that started it"

    process, url = _start_server_process(state_dir)
    try:
        runtime = boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1", **credentials)
        response = runtime.invoke_endpoint(
            EndpointName="survivor", Body=csv_rows(dataset[0][:2]), ContentType="text/csv"
        )
        labels = [p["label"] for p in json.loads(response["Body"].read())["predictions"]]
        assert labels == model.predict(dataset[0][:2]).tolist()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


# the scikit-learn container's default handlers, behind a script that defines only model_fn ---------
def test_default_handlers_serve_behind_a_script_with_only_model_fn(model, dataset, tmp_path):
    from localcloud.services.sagemaker.serving.handlers import Handlers, InvocationError, ScriptError

    joblib.dump(model, tmp_path / "model.joblib")
    loader = "import joblib, os\n\ndef model_fn(d):\n    return joblib.load(os.path.join(d, 'model.joblib'))\n"
    (tmp_path / "load.py").write_text(loader)
    handlers = Handlers.from_environment({"SAGEMAKER_PROGRAM": "load.py", "SAGEMAKER_SUBMIT_DIRECTORY": str(tmp_path)})
    loaded = handlers.model_fn(str(tmp_path))
    rows = dataset[0][:3]
    expected = model.predict(rows).tolist()
    body, content_type = handlers.invoke(loaded, csv_rows(rows).encode(), "text/csv", "application/json")
    assert (json.loads(body), content_type) == (expected, "application/json")
    body, _ = handlers.invoke(loaded, json.dumps(rows.tolist()).encode(), "application/json", "text/csv")
    assert body.decode().split() == [str(label) for label in expected]
    with pytest.raises(ValueError, match="could not convert string to float"):
        handlers.invoke(loaded, b"mean_radius,mean_texture\n1,2", "text/csv", "application/json")
    with pytest.raises(InvocationError, match="Content type text/plain is not supported"):
        handlers.invoke(loaded, b"1,2", "text/plain", "application/json")
    with pytest.raises(ScriptError, match="SAGEMAKER_PROGRAM is not set"):
        Handlers.from_environment({})
    with pytest.raises(ScriptError, match="inference script 'serve.py' not found"):
        Handlers.from_environment({"SAGEMAKER_PROGRAM": "serve.py", "SAGEMAKER_SUBMIT_DIRECTORY": str(tmp_path)})
