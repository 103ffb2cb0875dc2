"""Model servers run on the Python and libraries of the model's image, and their pip has the host pip's
index settings, as a job's has."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import time

import pytest

from tests.localcloud.test_corpus import _wheel

BUCKET = "images-serving"
ROLE = "arn:aws:iam::123456789012:role/model-execution"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:{}-cpu-py3"
SERVING_ENV = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
VERSIONS_SCRIPT = """\
    import json, sys
    import pandas, sklearn

    def model_fn(model_dir):
        return None

    def transform_fn(model, body, content_type, accept):
        python = "%d.%d" % sys.version_info[:2]
        versions = {"python": python, "sklearn": sklearn.__version__, "pandas": pandas.__version__}
        return json.dumps(versions), "application/json"
"""
LOCAL_PACKAGE_SCRIPT = """\
    import servingdep

    def model_fn(model_dir):
        return None

    def transform_fn(model, body, content_type, accept):
        return str(servingdep.ANSWER), "text/plain"
"""


def _archive(script: str, requirements: str | None = None) -> bytes:
    members = {"code/inference.py": textwrap.dedent(script).encode()}
    if requirements is not None:
        members["code/requirements.txt"] = requirements.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _deploy(cloud, name: str, image: str, script: str, requirements: str | None = None) -> dict:
    s3 = cloud.client("s3")
    s3.put_object(Bucket=BUCKET, Key=f"{name}/model.tar.gz", Body=_archive(script, requirements))
    sagemaker = cloud.client("sagemaker")
    container = {"Image": image, "ModelDataUrl": f"s3://{BUCKET}/{name}/model.tar.gz", "Environment": SERVING_ENV}
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container)
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    deadline = time.monotonic() + 600  # a first use builds the image's environment
    while (described := sagemaker.describe_endpoint(EndpointName=name))["EndpointStatus"] == "Creating":
        assert time.monotonic() < deadline, f"endpoint {name} still Creating"
        time.sleep(0.2)
    return described


def _invoke(cloud, name: str) -> bytes:
    answer = cloud.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=name, Body=b"[[1]]", ContentType="application/json"
    )
    return answer["Body"].read()


@pytest.fixture(scope="module")
def bucket(cloud):
    cloud.client("s3").create_bucket(Bucket=BUCKET)
    return cloud


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.2-1", {"python": "3.9", "sklearn": "1.2.1", "pandas": "1.1.3"}),
        ("1.9-0", {"python": "3.12", "sklearn": "1.9.0", "pandas": "2.2.3"}),
    ],
)
def test_the_model_server_runs_on_the_images_python_and_libraries(bucket, version, expected):
    name = "versions-" + version.replace(".", "-")
    described = _deploy(bucket, name, SKLEARN.format(version), VERSIONS_SCRIPT)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert json.loads(_invoke(bucket, name)) == expected


def test_a_model_of_an_unsupported_image_fails_the_endpoint_naming_it(bucket):
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    described = _deploy(bucket, "xgboost-model", image, VERSIONS_SCRIPT)
    assert described["EndpointStatus"] == "Failed"
    assert "sagemaker-xgboost:1.7-1 is not supported by the local cloud" in described["FailureReason"]
    left = list((bucket.state.root / "endpoints" / "us-east-1" / "xgboost-model").glob("*"))
    assert left == [], f"the instance that never started left its folder: {left}"


def test_the_model_servers_pip_uses_the_host_pips_index(bucket, tmp_path, monkeypatch):
    """code/requirements.txt names a package only a local index (the host pip's PIP_INDEX_URL) has."""
    wheel = "servingdep-1.0-py3-none-any.whl"
    tmp_path.chmod(0o755)  # the server runs as an unprivileged user, who must be able to read the index
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / wheel).write_bytes(_wheel("servingdep", "1.0", "ANSWER = 42\n"))
    (tmp_path / "simple" / "servingdep").mkdir(parents=True)
    (tmp_path / "simple" / "servingdep" / "index.html").write_text(f'<a href="../../files/{wheel}">{wheel}</a>\n')
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "simple").as_uri())
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    described = _deploy(bucket, "local-index-model", SKLEARN.format("1.9-0"), LOCAL_PACKAGE_SCRIPT, "servingdep\n")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert _invoke(bucket, "local-index-model") == b"42"
