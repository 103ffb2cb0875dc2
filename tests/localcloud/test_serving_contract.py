"""The scikit-learn serving container's contract, as an endpoint's caller sees it through InvokeEndpoint:
what the inference script's functions receive, the container's defaults, its answers to a content
type or Accept it cannot handle, and a model's requirements.txt."""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
import textwrap
import time

import joblib
import numpy as np
import pytest
from botocore.exceptions import ClientError
from sklearn.linear_model import LogisticRegression

BUCKET = "contract-models"
ROLE = "arn:aws:iam::123456789012:role/model-execution"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
SERVING_ENV = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
FEATURES = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
LABELS = np.array([0, 0, 0, 1, 1, 1])

# Tells the caller what the functions were handed: the body's type and the content type and accept.
ECHO_SCRIPT = """\
    import json

    def model_fn(model_dir):
        return "echo"

    def input_fn(body, content_type):
        return {"body_type": type(body).__name__, "content_type": content_type}

    def predict_fn(data, model):
        return data

    def output_fn(prediction, accept):
        prediction["accept"] = accept
        return json.dumps(prediction), "application/json"
"""
MODEL_FN_ONLY = """\
    import os, joblib

    def model_fn(model_dir):
        return joblib.load(os.path.join(model_dir, "model.joblib"))
"""
NO_MODEL_FN = """\
    def predict_fn(data, model):
        return model.predict(data)
"""
BOTH_STYLES = """\
    def model_fn(model_dir):
        return None

    def input_fn(body, content_type):
        return body

    def transform_fn(model, body, content_type, accept):
        return body, accept
"""
RAISES = """\
    def model_fn(model_dir):
        return None

    def predict_fn(data, model):
        raise ValueError("expected 30 feature values per row")
"""
NEEDS_A_PACKAGE = """\
    import inflection

    def model_fn(model_dir):
        return None

    def transform_fn(model, body, content_type, accept):
        return inflection.pluralize(body), "text/plain"
"""


def archive(script: str, requirements: str | None = None) -> bytes:
    """model.tar.gz: model.joblib at the root, code/inference.py (and code/requirements.txt)."""
    members = {"code/inference.py": textwrap.dedent(script).encode()}
    if requirements is not None:
        members["code/requirements.txt"] = requirements.encode()
    model = io.BytesIO()
    joblib.dump(LogisticRegression().fit(FEATURES, LABELS), model)
    members["model.joblib"] = model.getvalue()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def deploy(cloud, name: str, script: str, requirements: str | None = None, timeout: float = 180) -> dict:
    """CreateModel -> CreateEndpointConfig -> CreateEndpoint; returns DescribeEndpoint once settled."""
    s3 = cloud.client("s3")
    s3.put_object(Bucket=BUCKET, Key=f"{name}/model.tar.gz", Body=archive(script, requirements))
    sm = cloud.client("sagemaker")
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": f"s3://{BUCKET}/{name}/model.tar.gz",
            "Environment": SERVING_ENV,
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] != "Creating" or time.monotonic() > deadline:
            return described
        time.sleep(0.1)


def invoke(cloud, name: str, body, content_type: str | None = None, accept: str | None = None) -> tuple[bytes, str]:
    extra = {k: v for k, v in (("ContentType", content_type), ("Accept", accept)) if v is not None}
    answer = cloud.client("sagemaker-runtime").invoke_endpoint(EndpointName=name, Body=body, **extra)
    return answer["Body"].read(), answer["ContentType"]


def model_error(cloud, name: str, body, content_type: str, accept: str | None = None) -> dict:
    with pytest.raises(ClientError) as raised:
        invoke(cloud, name, body, content_type, accept)
    error = raised.value.response
    assert error["Error"]["Code"] == "ModelError" and error["ResponseMetadata"]["HTTPStatusCode"] == 424
    return error


@pytest.fixture(scope="module")
def bucket(cloud):
    cloud.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture(scope="module")
def echo(cloud, bucket):
    described = deploy(cloud, "echo", ECHO_SCRIPT)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return "echo"


@pytest.fixture(scope="module")
def defaults(cloud, bucket):
    described = deploy(cloud, "defaults", MODEL_FN_ONLY)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return "defaults"


def test_input_fn_receives_text_for_csv_and_json_and_bytes_otherwise(cloud, echo):
    def seen(content_type, accept=None):
        body, _ = invoke(cloud, echo, b"1,2", content_type, accept)
        return json.loads(body)

    assert seen("text/csv") == {"body_type": "str", "content_type": "text/csv", "accept": "application/json"}
    assert seen("application/json")["body_type"] == "str"
    assert seen("application/x-npy")["body_type"] == "bytes"
    assert seen("application/octet-stream")["body_type"] == "bytes"
    # the container compares the whole header: a charset parameter makes it bytes
    assert seen("text/csv; charset=utf-8")["body_type"] == "bytes"
    assert seen("text/csv", accept="*/*")["accept"] == "application/json"  # */* is the default Accept
    assert seen("text/csv", accept="text/csv")["accept"] == "text/csv"


def test_default_handlers_decode_predict_and_encode_as_the_container(cloud, defaults):
    expected = LogisticRegression().fit(FEATURES, LABELS).predict(FEATURES).tolist()
    rows = "\n".join(",".join(str(v) for v in row) for row in FEATURES)
    body, content_type = invoke(cloud, defaults, rows, "text/csv", "application/json")
    assert (json.loads(body), content_type) == (expected, "application/json")
    body, content_type = invoke(cloud, defaults, json.dumps(FEATURES.tolist()), "application/json", "text/csv")
    assert body.decode().split() == [str(label) for label in expected]
    assert content_type == "text/csv; charset=utf-8"
    buffer = io.BytesIO()
    np.save(buffer, FEATURES)
    body, content_type = invoke(cloud, defaults, buffer.getvalue(), "application/x-npy", "application/x-npy")
    assert content_type == "application/x-npy"
    assert np.load(io.BytesIO(body)).tolist() == expected


def test_unsupported_content_type_and_accept_are_415_and_406(cloud, defaults):
    error = model_error(cloud, defaults, b"1,2", "text/plain", "application/json")
    assert error["OriginalStatusCode"] == 415
    original = json.loads(error["OriginalMessage"])
    assert original["error"] == "UnsupportedFormatError"
    assert original["error-message"].startswith("Content type text/plain is not supported by this framework.")
    error = model_error(cloud, defaults, b"1,2\n3,4", "text/csv", "application/xml")
    assert error["OriginalStatusCode"] == 406
    assert "Content type application/xml is not supported" in json.loads(error["OriginalMessage"])["error-message"]
    assert "Received client error (406)" in error["Error"]["Message"]


def test_what_a_script_raises_is_a_server_error(cloud, bucket):
    described = deploy(cloud, "raises", RAISES)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    error = model_error(cloud, "raises", b"1,2", "text/csv")
    assert error["OriginalStatusCode"] == 500
    assert "expected 30 feature values per row" in error["OriginalMessage"]
    assert "Received server error (500)" in error["Error"]["Message"]


def test_a_script_without_model_fn_cannot_load_the_model(cloud, bucket):
    described = deploy(cloud, "no-model-fn", NO_MODEL_FN)
    assert described["EndpointStatus"] == "Failed"
    assert "Please provide a model_fn implementation" in described["FailureReason"]


def test_transform_fn_with_input_fn_is_refused(cloud, bucket):
    described = deploy(cloud, "both-styles", BOTH_STYLES)
    assert described["EndpointStatus"] == "Failed"
    assert "Cannot use transform_fn implementation with input_fn" in described["FailureReason"]


def test_requirements_txt_of_the_inference_code_is_installed_before_the_model_loads(cloud, bucket):
    assert importlib.util.find_spec("inflection") is None, "the package must be one the venv lacks"
    described = deploy(cloud, "with-requirements", NEEDS_A_PACKAGE, requirements="inflection==0.5.1\n")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    body, _ = invoke(cloud, "with-requirements", b"model", "text/csv", "text/plain")
    assert body == b"models"
    failed = deploy(cloud, "bad-requirements", NEEDS_A_PACKAGE, requirements="no-such-package-for-localcloud-tests\n")
    assert failed["EndpointStatus"] == "Failed"
    assert "failed to install required packages" in failed["FailureReason"]
    assert "no-such-package-for-localcloud-tests" in failed["FailureReason"]
