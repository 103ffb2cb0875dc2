"""Endpoint data capture: sampled requests and responses land in S3 as SageMaker lays them out."""

from __future__ import annotations

import base64
import json
import random
import re
import time
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from localcloud.services.sagemaker.endpoints import EndpointService
from localcloud.services.sagemaker.serving import capture
from localcloud.services.sagemaker.serving.capture import CaptureConfigError, CaptureWriter, Sampler
from tests.localcloud.test_endpoints import IMAGE, ROLE, SERVING_ENV, csv_rows, make_archive, wait_settled

CAPTURE_BUCKET = "capture-bucket"
CAPTURE_PREFIX = "datacapture-staging"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
BOTH = [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
HEADER = {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}


def capture_config(**overrides) -> dict:
    config = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{CAPTURE_BUCKET}/{CAPTURE_PREFIX}",
        "CaptureOptions": BOTH,
        "CaptureContentTypeHeader": HEADER,
    }
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


ENDPOINTS = {
    "capture-all": capture_config(),
    "capture-off": capture_config(EnableCapture=False),
    "capture-input": capture_config(
        CaptureOptions=[{"CaptureMode": "Input"}], CaptureContentTypeHeader=None, KmsKeyId="alias/capture"
    ),
    "capture-nowhere": capture_config(DestinationS3Uri="s3://no-such-capture-bucket/capture"),
    "capture-deleted": capture_config(CaptureOptions=[{"CaptureMode": "Input"}]),  # the deletion test's own
}  # each endpoint is a model server to start: keep them few


@pytest.fixture(scope="module")
def rows():
    return load_breast_cancer().data[:3]


@pytest.fixture(scope="module")
def endpoints(cloud, tmp_path_factory):
    """One endpoint per capture setting, all deployed at once (from the same registered package)."""
    s3, sm = cloud.client("s3"), cloud.client("sagemaker")
    features, labels = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(max_iter=5000).fit(features, labels)
    s3.create_bucket(Bucket="capture-models")
    s3.create_bucket(Bucket=CAPTURE_BUCKET)
    archive = make_archive(tmp_path_factory.mktemp("capture-model"), model)
    s3.upload_file(str(archive), "capture-models", "model.tar.gz")
    sm.create_model_package_group(ModelPackageGroupName="capture-tests")
    package = sm.create_model_package(
        ModelPackageGroupName="capture-tests",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [
                {"Image": IMAGE, "ModelDataUrl": "s3://capture-models/model.tar.gz", "Environment": SERVING_ENV}
            ],
            "SupportedContentTypes": ["text/csv", "application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]
    for name, data_capture in ENDPOINTS.items():
        sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": package}])
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
            DataCaptureConfig=data_capture,
        )
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    for name in ENDPOINTS:
        description = wait_settled(sm, name)
        assert description["EndpointStatus"] == "InService", description.get("FailureReason")
    return list(ENDPOINTS)


def test_describe_endpoint_shows_what_it_captures(aws, endpoints):
    sm = aws("sagemaker")
    destination = f"s3://{CAPTURE_BUCKET}/{CAPTURE_PREFIX}"
    assert sm.describe_endpoint(EndpointName="capture-all")["DataCaptureConfig"] == {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 100,
        "DestinationS3Uri": destination,
    }
    assert sm.describe_endpoint(EndpointName="capture-input")["DataCaptureConfig"]["KmsKeyId"] == "alias/capture"
    off = sm.describe_endpoint(EndpointName="capture-off")["DataCaptureConfig"]
    assert off["EnableCapture"] is False and off["CaptureStatus"] == "Stopped"


@pytest.fixture()
def writer(cloud) -> CaptureWriter:
    return next(s for s in cloud.services if isinstance(s, EndpointService)).capture


def invoke(aws, name: str, body: str, content_type: str, **extra) -> bytes:
    response = aws("sagemaker-runtime").invoke_endpoint(
        EndpointName=name, Body=body, ContentType=content_type, Accept="application/json", **extra
    )
    return response["Body"].read()


def captured(aws, prefix: str, before: dict[str, list[dict]] | None = None) -> dict[str, list[dict]]:
    """Every capture file under ``prefix`` (that is not in ``before``): key -> its records.

    A flush writes new objects only, so the files a test's own invocations produced are the ones
    that were not there when it started, whatever ran before it."""
    s3 = aws("s3")
    files = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=CAPTURE_BUCKET, Prefix=prefix):
        for item in page.get("Contents", []):
            if before and item["Key"] in before:
                continue
            body = s3.get_object(Bucket=CAPTURE_BUCKET, Key=item["Key"])["Body"].read().decode()
            assert body.endswith("\n"), "JSON Lines: every record ends with a newline"
            files[item["Key"]] = [json.loads(line) for line in body.splitlines()]
    return files


def records(files: dict[str, list[dict]]) -> list[dict]:
    return [record for lines in files.values() for record in lines]


# through the endpoint -------------------------------------------------------------------------------
def test_full_capture_writes_each_invocation_as_sagemaker_does(aws, endpoints, writer, rows):
    name = "capture-all"
    writer.flush()  # what other tests left waiting is not this test's
    before = captured(aws, f"{CAPTURE_PREFIX}/{name}/")
    started = datetime.now(UTC).replace(microsecond=0)
    csv_body = csv_rows(rows[:2])
    json_body = json.dumps({"instances": rows[2:3].tolist()})
    answers = [
        invoke(aws, name, csv_body, "text/csv", InferenceId="request-1"),
        invoke(aws, name, csv_body, "text/csv"),
        invoke(aws, name, json_body, "application/json"),
    ]
    writer.flush()

    files = captured(aws, f"{CAPTURE_PREFIX}/{name}/", before)
    assert files, "nothing was captured"
    layout = re.compile(
        rf"{CAPTURE_PREFIX}/{name}/AllTraffic/(\d{{4}})/(\d{{2}})/(\d{{2}})/(\d{{2}})/\d{{2}}-\d{{2}}-\d{{3}}-{UUID}\.jsonl"
    )
    records = []
    for key, lines in files.items():
        match = layout.fullmatch(key)
        assert match, f"{key} is not <prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl"
        for record in lines:
            moment = datetime.strptime(record["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ")
            assert match.groups() == (f"{moment:%Y}", f"{moment:%m}", f"{moment:%d}", f"{moment:%H}")
            records.append(record)
    assert len(records) == 3, "one record per invocation at 100 %"

    records.sort(key=lambda r: r["eventMetadata"].get("inferenceId", "~"))  # request-1 first
    first = records[0]
    assert set(first) == {"captureData", "eventMetadata", "eventVersion"}
    assert first["eventVersion"] == "0"
    assert first["eventMetadata"]["inferenceId"] == "request-1"
    assert re.fullmatch(UUID, first["eventMetadata"]["eventId"])
    assert len({r["eventMetadata"]["eventId"] for r in records}) == 3
    for record in records:
        moment = datetime.strptime(record["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ")
        assert started <= moment.replace(tzinfo=UTC) <= datetime.now(UTC)
    assert first["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": csv_body,
        "encoding": "CSV",
    }
    assert first["captureData"]["endpointOutput"] == {
        "observedContentType": "application/json",
        "mode": "OUTPUT",
        "data": answers[0].decode(),
        "encoding": "JSON",
    }
    by_json = next(r for r in records if r["captureData"]["endpointInput"]["observedContentType"] == "application/json")
    assert by_json["captureData"]["endpointInput"]["data"] == json_body
    assert by_json["captureData"]["endpointInput"]["encoding"] == "JSON"
    assert json.loads(by_json["captureData"]["endpointOutput"]["data"]) == json.loads(answers[2])


def test_capture_turned_off_writes_nothing(aws, endpoints, writer, rows):
    writer.flush()
    before = captured(aws, f"{CAPTURE_PREFIX}/capture-all/")
    invoke(aws, "capture-off", csv_rows(rows[:1]), "text/csv")
    invoke(aws, "capture-all", csv_rows(rows[:1]), "text/csv")  # a flush that does write, to compare
    writer.flush()
    assert len(records(captured(aws, f"{CAPTURE_PREFIX}/capture-all/", before))) == 1
    assert captured(aws, f"{CAPTURE_PREFIX}/capture-off/") == {}


def test_input_only_capture_has_no_output_and_base64_without_a_content_type_header(aws, endpoints, writer, rows):
    body = csv_rows(rows[:1])
    writer.flush()
    before = captured(aws, f"{CAPTURE_PREFIX}/capture-input/")
    invoke(aws, "capture-input", body, "text/csv")
    writer.flush()
    [record] = records(captured(aws, f"{CAPTURE_PREFIX}/capture-input/", before))
    assert set(record["captureData"]) == {"endpointInput"}
    endpoint_input = record["captureData"]["endpointInput"]
    assert endpoint_input["encoding"] == "BASE64"  # no CaptureContentTypeHeader: SageMaker's default
    assert base64.b64decode(endpoint_input["data"]).decode() == body


def test_missing_destination_bucket_keeps_serving_and_says_why_in_the_log_stream(aws, endpoints, writer, rows):
    name = "capture-nowhere"
    answer = json.loads(invoke(aws, name, csv_rows(rows[:1]), "text/csv"))
    assert len(answer["predictions"]) == 1
    writer.flush()
    logs, group = aws("logs"), f"/aws/sagemaker/Endpoints/{name}"
    [stream] = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="AllTraffic/")["logStreams"]
    events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True)[
        "events"
    ]
    messages = [e["message"] for e in events if "Data capture" in e["message"]]
    assert messages, "the failed capture is not reported in the endpoint's log stream"
    assert "bucket no-such-capture-bucket does not exist" in messages[-1]
    assert "DataCaptureConfig.DestinationS3Uri" in messages[-1]


def test_invalid_capture_configuration_fails_the_endpoint_naming_the_field(aws, endpoints):
    sm = aws("sagemaker")
    sm.create_endpoint_config(
        EndpointConfigName="capture-bad",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "capture-all",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        DataCaptureConfig=capture_config(DestinationS3Uri="https://example.com/capture"),
    )
    sm.create_endpoint(EndpointName="capture-bad", EndpointConfigName="capture-bad")
    description = wait_settled(sm, "capture-bad")
    assert description["EndpointStatus"] == "Failed"
    assert "DataCaptureConfig of endpoint configuration capture-bad" in description["FailureReason"]
    assert "DestinationS3Uri is 'https://example.com/capture'" in description["FailureReason"]
    with pytest.raises(ClientError):
        invoke(aws, "capture-bad", "1", "text/csv")


def wait_for_records(aws, prefix: str, before: dict, count: int, timeout: float = 10) -> dict[str, list[dict]]:
    deadline = time.monotonic() + timeout
    while len(records(files := captured(aws, prefix, before))) < count:
        assert time.monotonic() < deadline, f"{count} records never reached {prefix}: {files}"
        time.sleep(0.1)
    return files


def test_delete_writes_what_was_waiting(aws, endpoints, writer, rows):
    """It deletes capture-deleted, an endpoint no other test uses."""
    name = "capture-deleted"
    prefix = f"{CAPTURE_PREFIX}/{name}/"
    writer.set_flush_interval(3600)  # from the next wake-up on, only the deletion writes
    try:
        # a first record, written by the writer's own wake-up: once it is in S3 that wake-up is
        # spent and the writer sleeps for an hour
        before = captured(aws, prefix)
        invoke(aws, name, csv_rows(rows[:1]), "text/csv")
        writer.flush_soon()
        before.update(wait_for_records(aws, prefix, before, 1))
        for _ in range(2):
            invoke(aws, name, csv_rows(rows[:1]), "text/csv")
        assert captured(aws, prefix, before) == {}, "written per request"
        aws("sagemaker").delete_endpoint(EndpointName=name)
        written = wait_for_records(aws, prefix, before, 2)
    finally:
        writer.set_flush_interval(capture.FLUSH_SECONDS)
    assert [len(lines) for lines in written.values()] == [2], "both waited and were written together"


# the pieces on their own ----------------------------------------------------------------------------
def test_sampling_takes_all_none_or_the_configured_share():
    sampler = Sampler(random.Random(7))
    assert all(sampler.take(100) for _ in range(1000))
    assert not any(sampler.take(0) for _ in range(1000))
    draws = 20000
    for percentage in (1, 25, 70):
        share = sum(sampler.take(percentage) for _ in range(draws)) / draws * 100
        assert abs(share - percentage) < 1.5, f"{share:.2f} % captured at {percentage} %"


def test_settings_reject_what_sagemaker_rejects():
    assert capture.settings(None) is None
    assert capture.settings(capture_config(EnableCapture=False)) is None
    on = capture.settings(capture_config(EnableCapture=None, CaptureOptions=[{"CaptureMode": "Output"}]))
    assert on is not None and (on.capture_input, on.capture_output) == (False, True)
    for overrides, field in [
        ({"InitialSamplingPercentage": 101}, "InitialSamplingPercentage"),
        ({"InitialSamplingPercentage": None}, "InitialSamplingPercentage"),
        ({"CaptureOptions": []}, "CaptureOptions"),
        ({"CaptureOptions": [{"CaptureMode": "Request"}]}, "CaptureMode 'Request'"),
        ({"DestinationS3Uri": "bucket/prefix"}, "DestinationS3Uri"),
    ]:
        with pytest.raises(CaptureConfigError, match=field):
            capture.settings(capture_config(**overrides))


def test_closing_the_writer_writes_what_waits():
    class FakeS3:
        def __init__(self):
            self.objects = {}

        def put_object(self, Bucket, Key, Body, ContentType):  # noqa: N803 - boto3's names
            self.objects[(Bucket, Key)] = Body

    s3 = FakeS3()
    writer = CaptureWriter(lambda: s3, lambda *_: None, flush_seconds=3600)
    settings = capture.settings(capture_config(CaptureContentTypeHeader=None))
    key = ("123456789012", "us-east-1", "endpoint")
    assert writer.record(key, "AllTraffic", settings, b"\xff\x00", "application/x-npy", b"[1]", None)
    assert s3.objects == {}
    writer.close()
    ((bucket, object_key), body), *others = s3.objects.items()
    assert not others and bucket == CAPTURE_BUCKET and object_key.startswith(f"{CAPTURE_PREFIX}/endpoint/AllTraffic/")
    record = json.loads(body)
    assert base64.b64decode(record["captureData"]["endpointInput"]["data"]) == b"\xff\x00"
    assert record["captureData"]["endpointOutput"]["observedContentType"] == "application/octet-stream"
    assert not writer.record(key, "AllTraffic", settings, b"1", "text/csv", b"1", "text/csv"), "closed"
