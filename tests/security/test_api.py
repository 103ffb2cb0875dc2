"""Attacks on the local cloud's API, driven over real HTTP: each is refused and leaves the host untouched.

A web page the user opens can send requests to 127.0.0.1; so can any local process. The last
tests take a defence away and show the same attack succeeding, so this suite would notice if a
defence were lost.
"""

from __future__ import annotations

import os
import socket
import stat
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.core import credentials as credentials_module
from localcloud.core.admission import Admission, Admitted
from tests.localcloud.signing import signed_headers
from tests.localcloud.stack_waits import settled_stack

BUCKET = "security-bucket"
EVIL = "http://evil.example"


def _send(cloud, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    request = urllib.request.Request(f"{cloud.url}{path}", data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def _evil_template(marker: Path) -> str:
    return f"Resources:\n  Pwn: !!python/object/apply:os.system ['touch {marker}']\n"


def _create_stack_form(template: str) -> bytes:
    from urllib.parse import urlencode

    return urlencode({"Action": "CreateStack", "StackName": "drive-by", "TemplateBody": template}).encode()


@pytest.fixture()
def bucket(aws):
    s3 = aws("s3")
    try:
        s3.create_bucket(Bucket=BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    return s3


# browser origins ----------------------------------------------------------------------------
def test_a_preflight_from_a_foreign_origin_gets_no_allow_headers(cloud):
    status, headers, _ = _send(
        cloud,
        "OPTIONS",
        "/",
        {"Origin": EVIL, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"},
    )
    assert status == 403
    assert not [name for name in headers if name.startswith("access-control-")]


def test_a_preflight_from_the_local_clouds_own_origin_is_allowed(cloud):
    own = f"http://localhost:{cloud.port}"
    status, headers, _ = _send(cloud, "OPTIONS", "/", {"Origin": own, "Access-Control-Request-Method": "PUT"})
    assert status == 200 and headers["access-control-allow-origin"] == own


def test_a_drive_by_create_stack_from_a_web_page_is_refused_and_runs_nothing(cloud, tmp_path):
    marker = tmp_path / "drive-by-marker"
    body = _create_stack_form(_evil_template(marker))
    headers = signed_headers(
        cloud, "POST", "/", body, {"Content-Type": "application/x-www-form-urlencoded"}, "cloudformation"
    )
    for origin_header in ({"Origin": EVIL}, {"Referer": f"{EVIL}/page.html"}):
        status, _, data = _send(cloud, "POST", "/", {**headers, **origin_header}, body)
        assert status == 403 and b"<Code>AccessDenied</Code>" in data and b"evil.example" in data
    assert not marker.exists()


def test_extra_origins_can_be_allowed_by_the_environment(monkeypatch):
    from localcloud.core.admission import allowed_origins

    monkeypatch.setenv("LOCALCLOUD_ALLOWED_ORIGINS", "http://notebook.local:8888, https://studio.example/")
    origins = allowed_origins(4590)
    assert {"http://notebook.local:8888", "https://studio.example", "http://127.0.0.1:4590"} <= origins
    assert EVIL not in origins


# signatures ---------------------------------------------------------------------------------
def test_unsigned_requests_are_refused_in_each_protocols_shape(cloud, bucket):
    status, _, data = _send(cloud, "GET", f"/{BUCKET}")
    assert status == 403 and b"<Code>AccessDenied</Code>" in data and b"localcloud env" in data
    status, headers, data = _send(
        cloud,
        "POST",
        "/",
        {"X-Amz-Target": "SageMaker.ListModels", "Content-Type": "application/x-amz-json-1.1"},
        b"{}",
    )
    assert status == 403 and headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    status, _, data = _send(
        cloud, "POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, b"Action=ListRoles"
    )
    assert status == 403 and b"<Code>MissingAuthenticationToken</Code>" in data


def test_an_unsigned_drive_by_create_stack_runs_nothing(cloud, tmp_path):
    marker = tmp_path / "unsigned-marker"
    status, _, _ = _send(
        cloud,
        "POST",
        "/",
        {"Content-Type": "application/x-www-form-urlencoded"},
        _create_stack_form(_evil_template(marker)),
    )
    assert status == 403 and not marker.exists()


def _client(cloud, service, key_id, secret, token=None):
    return boto3.client(
        service,
        endpoint_url=cloud.url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("s3", lambda c: c.list_buckets(), "SignatureDoesNotMatch"),
        ("sagemaker", lambda c: c.list_models(), "InvalidSignatureException"),
        ("iam", lambda c: c.list_roles(), "SignatureDoesNotMatch"),
    ],
)
def test_a_wrong_secret_is_refused(cloud, service, call, code):
    with pytest.raises(ClientError) as refused:
        call(_client(cloud, service, cloud.credentials.root.access_key_id, "not-the-secret"))
    assert refused.value.response["Error"]["Code"] == code
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_key_the_local_cloud_never_issued_is_refused(cloud):
    with pytest.raises(ClientError) as refused:
        _client(cloud, "iam", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").list_roles()
    assert refused.value.response["Error"]["Code"] == "InvalidClientTokenId"
    with pytest.raises(ClientError) as refused:
        _client(cloud, "s3", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").list_buckets()
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_an_issued_session_works_only_with_its_token(cloud):
    session = cloud.credentials.issue()
    with_token = _client(cloud, "s3", session.access_key_id, session.secret_access_key, session.session_token)
    assert "Buckets" in with_token.list_buckets()
    with pytest.raises(ClientError) as refused:
        _client(cloud, "sagemaker", session.access_key_id, session.secret_access_key).list_models()
    assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"
    cloud.credentials.end(session.access_key_id)
    with pytest.raises(ClientError):
        with_token.list_buckets()


def test_an_expired_session_is_refused(cloud):
    session = cloud.credentials.issue(seconds=-1)
    with pytest.raises(ClientError) as refused:
        _client(
            cloud, "sagemaker", session.access_key_id, session.secret_access_key, session.session_token
        ).list_models()
    assert refused.value.response["Error"]["Code"] == "ExpiredTokenException"


def test_presigned_urls_work_until_tampered_with_or_expired(cloud, bucket):
    bucket.put_object(Bucket=BUCKET, Key="shared/report.txt", Body=b"quarterly numbers")
    bucket.put_object(Bucket=BUCKET, Key="shared/secret.txt", Body=b"not for you")
    for version in ("s3", "s3v4"):  # boto3's default (version 2) and SigV4
        s3 = boto3.client(
            "s3", endpoint_url=cloud.url, region_name="us-east-1", config=Config(signature_version=version)
        )
        url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "shared/report.txt"})
        assert urllib.request.urlopen(url, timeout=10).read() == b"quarterly numbers"
        tampered = url.replace("report.txt", "secret.txt")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(tampered, timeout=10)
        assert refused.value.code == 403 and b"SignatureDoesNotMatch" in refused.value.read()
        expired = s3.generate_presigned_url(
            "get_object", Params={"Bucket": BUCKET, "Key": "shared/report.txt"}, ExpiresIn=1
        )
        time.sleep(2.1 if version == "s3" else 1.1)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(expired, timeout=10)
        assert refused.value.code == 403 and b"expired" in refused.value.read()


def test_a_body_that_does_not_match_its_signed_hash_is_refused(cloud, bucket):
    path = f"/{BUCKET}/swapped.txt"
    headers = signed_headers(cloud, "PUT", path, b"what was signed", {}, "s3")
    status, _, data = _send(cloud, "PUT", path, headers, b"something else")
    assert status == 400 and b"XAmzContentSHA256Mismatch" in data
    with pytest.raises(ClientError):
        bucket.head_object(Bucket=BUCKET, Key="swapped.txt")


def test_the_credentials_file_is_readable_by_its_owner_only(cloud):
    mode = stat.S_IMODE(os.stat(credentials_module.credentials_file(cloud.state.root)).st_mode)
    assert mode == 0o600
    assert credentials_module.read(cloud.state.root) == cloud.credentials.root


# moto's management routes -------------------------------------------------------------------
def test_motos_management_api_is_not_reachable_even_signed(cloud, bucket):
    for path in ("/moto-api/reset", "/moto-api/data.json"):
        for method in ("GET", "POST"):
            headers = signed_headers(cloud, method, path, b"", {}, "s3")
            status, _, data = _send(cloud, method, path, headers, b"" if method == "POST" else None)
            assert status == 403 and b"management API" in data
    assert BUCKET in [b["Name"] for b in bucket.list_buckets()["Buckets"]], "nothing was reset"


# no code from input -------------------------------------------------------------------------
def test_a_python_tag_in_a_signed_template_is_a_template_error_and_runs_nothing(aws, tmp_path):
    marker = tmp_path / "yaml-marker"
    with pytest.raises(ClientError) as refused:
        aws("cloudformation").create_stack(StackName="yaml-attack", TemplateBody=_evil_template(marker))
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert "Template format error" in refused.value.response["Error"]["Message"]
    assert not marker.exists()
    with pytest.raises(ClientError):
        aws("cloudformation").validate_template(TemplateBody=_evil_template(marker))
    assert not marker.exists()


def test_short_intrinsic_tags_still_work(aws):
    template = (
        "Parameters:\n  Suffix:\n    Type: String\n    Default: tags\n"
        "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n"
        "    Properties:\n      BucketName: !Join ['-', [!Ref AWS::StackName, !Sub '${Suffix}-bucket']]\n"
        "Outputs:\n  Arn:\n    Value: !GetAtt Bucket.Arn\n"
        "  Name:\n    Value: !Select [0, !Split ['/', !Sub 'a-${Suffix}/b']]\n"
    )
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(StackName="short-tags", TemplateBody=template)
    stack = settled_stack(cloudformation, "short-tags")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert outputs == {"Arn": "arn:aws:s3:::short-tags-tags-bucket", "Name": "a-tags"}


# HTTP limits and missing operations ---------------------------------------------------------
def _raw(cloud, data: bytes) -> bytes:
    with socket.create_connection((cloud.host, cloud.port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_oversized_request_lines_headers_and_bodies_get_a_clear_4xx(cloud):
    long_line = b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert _raw(cloud, long_line).startswith(b"HTTP/1.1 414")
    many = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n"
    assert _raw(cloud, many).split(b" ")[1] == b"431"
    huge_header = b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 70000 + b"\r\n\r\n"
    assert _raw(cloud, huge_header).split(b" ")[1] in (b"400", b"431")
    too_big = b"POST /endpoints/x/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"
    answer = _raw(cloud, too_big)
    assert answer.startswith(b"HTTP/1.1 413") and b"larger than" in answer
    chunked = b"POST /endpoints/x/invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    past_limit = 16 * 1024 * 1024 + 1  # a chunked body is counted as it arrives, whatever sizes it declares
    answer = _raw(cloud, chunked + b"%x\r\n" % past_limit + b"c" * past_limit)
    assert answer.startswith(b"HTTP/1.1 413") and b"larger than" in answer
    assert _raw(cloud, chunked + b"FFFFFFFFFF\r\n").split(b" ")[1] in (b"400", b"413")  # nothing is set aside for it


def test_an_api_body_past_any_aws_limit_is_refused_before_it_is_read(cloud):
    head = (
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: SageMaker.ListModels\r\n"
        b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 999999999999\r\n\r\n"
    )
    answer = _raw(cloud, head + b"{}")
    assert answer.split(b" ")[1] == b"413" and b"RequestEntityTooLarge" in answer


def test_an_operation_moto_lacks_answers_501_naming_it_and_is_not_retried(aws):
    client = aws("codepipeline")
    started = time.monotonic()
    with pytest.raises(ClientError) as refused:
        client.list_webhooks()
    response = refused.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "ListWebhooks" in response["Error"]["Message"]
    assert response["ResponseMetadata"]["RetryAttempts"] == 0
    assert time.monotonic() - started < 5


# the suite would notice a lost defence ------------------------------------------------------
def test_without_the_admission_check_a_web_page_would_read_the_buckets(cloud, bucket, monkeypatch):
    """Take the gate away: the same unsigned, foreign-origin request that is refused above is served."""

    class OpenDoor(Admission):
        def check(self, method, target, headers, body):
            return Admitted("us-east-1", None)

    request = ("GET", "/", {"Origin": EVIL})
    assert _send(cloud, *request)[0] == 403
    monkeypatch.setattr(cloud.gateway, "admission", OpenDoor(cloud.credentials, ()))
    status, _, data = _send(cloud, *request)
    assert status == 200 and BUCKET.encode() in data


def test_without_the_safe_loader_the_yaml_attack_would_run_code(tmp_path):
    """moto's own loader runs the python tag: the marker appears, which is what the tests above rule out."""
    import yaml
    from moto.cloudformation import models
    from moto.cloudformation.models import Stack

    from localcloud.core.moto_seam import safe_yaml

    marker = tmp_path / "unsafe-marker"
    monkeypatched = models.yaml
    models.yaml = yaml
    try:
        Stack.parse_template(_evil_template(marker))
    finally:
        models.yaml = monkeypatched
    assert marker.exists(), "moto's loader ran the tag: the defence is what stops it"
    marker.unlink()
    safe_yaml.install()
    with pytest.raises(Exception, match="Template format error"):
        Stack.parse_template(_evil_template(marker))
    assert not marker.exists()


def test_our_own_routes_are_signed_too(cloud):
    """A forged push event would start a build; a forged custom-resource answer would decide a stack."""
    for path in ("/_localcloud/codecommit/push", "/cloudformation-custom-resource/forged-request"):
        status, _, _ = _send(
            cloud, "POST" if "push" in path else "PUT", path, {"Content-Type": "application/json"}, b"{}"
        )
        assert status == 403, path


def test_sts_credentials_sign_requests_and_the_documentation_example_key_does_not(aws, cloud):
    sts = aws("sts")
    role = aws("iam").create_role(RoleName="assumable", AssumeRolePolicyDocument="{}")["Role"]
    for issued in (
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ci")["Credentials"],
        sts.get_session_token()["Credentials"],
    ):
        assert issued["AccessKeyId"] != "AKIAIOSFODNN7EXAMPLE"
        client = _client(cloud, "s3", issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"])
        assert "Buckets" in client.list_buckets()
    example = _client(cloud, "s3", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    with pytest.raises(ClientError):
        example.list_buckets()


def test_s3s_body_limit_applies_to_every_signature_s3_takes(cloud, bucket, monkeypatch):
    """A SigV2 presigned PUT (boto3's default) is S3's, so it gets S3's limit, not the other APIs' one."""
    from localcloud.core import gateway

    monkeypatch.setattr(gateway, "MAX_API_BODY", 1024)
    body = b"y" * 4096
    for version in ("s3", "s3v4"):
        s3 = boto3.client(
            "s3", endpoint_url=cloud.url, region_name="us-east-1", config=Config(signature_version=version)
        )
        url = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": f"limit-{version}.bin"})
        status, _, data = _send(cloud, "PUT", url.removeprefix(cloud.url), {"Content-Type": ""}, body)
        assert status == 200, data
        assert bucket.get_object(Bucket=BUCKET, Key=f"limit-{version}.bin")["Body"].read() == body
    root = cloud.credentials.root
    with pytest.raises(ClientError) as refused:
        _client(cloud, "sagemaker", root.access_key_id, root.secret_access_key).list_models(NameContains="x" * 2000)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
