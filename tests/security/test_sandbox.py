"""Attacks from inside the sandbox: each runs in a real job (or build, or model server) created
through the API, and each test checks both what the program reports and that the host is untouched.
"""

from __future__ import annotations

import io
import json
import socket
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.services.sagemaker.images import environments, table

IMAGE_VERSION = "1.9-0"
IMAGE = f"683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:{IMAGE_VERSION}-cpu-py3"

BUCKET = "sandbox-attacks"
ROLE = "arn:aws:iam::123456789012:role/attacker"

# The job's program: each probe prints one ``PROBE {json}`` line with what it found.
PROBES = r"""
import json, os, socket, subprocess, sys

def report(**found):
    print("PROBE " + json.dumps(found), flush=True)

def read(path):
    try:
        if os.path.isdir(path):
            return "listing:" + ",".join(sorted(os.listdir(path)))
        with open(path, "rb") as handle:
            return "content:" + handle.read(200).decode(errors="replace")
    except FileNotFoundError:
        return "absent"
    except PermissionError:
        return "denied"
    except OSError as error:
        return f"error:{error}"

def write(path):
    try:
        with open(path, "w") as handle:
            handle.write("owned")
        return "written"
    except OSError as error:
        return f"refused:{type(error).__name__}"

def connect(port):
    try:
        socket.create_connection(("127.0.0.1", int(port)), timeout=3).close()
        return "connected"
    except OSError as error:
        return f"refused:{type(error).__name__}"

probe, *args = sys.argv[1:]
if probe == "remount":
    mount = subprocess.run(["mount", "-o", "remount,bind,rw", "/"], capture_output=True, text=True)
    report(mount=mount.returncode, writes={path: write(path) for path in args})
elif probe == "read":
    report(**{path: read(path) for path in args})
elif probe == "identity":
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
    report(uid=os.getuid(), euid=os.geteuid(), gid=os.getgid(), groups=os.getgroups(),
           **{key: status[key].strip() for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs")})
elif probe == "network":
    port, key = args
    try:
        import boto3
        boto3.client("s3").put_object(Bucket="sandbox-attacks", Key=key, Body=b"from the job")
        api = "reached"
    except Exception as error:
        api = f"failed:{type(error).__name__}"
    report(host_port=connect(port), api=api)
elif probe == "credentials":  # what a job that leaks its key would hand out
    import boto3
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    report(api="reached" if "Buckets" in boto3.client("s3").list_buckets() else "failed",
           **{name: os.environ.get(name) for name in names})
"""


def put_probes(s3) -> None:
    s3.put_object(Bucket=BUCKET, Key="code/probes.py", Body=PROBES.encode())


@pytest.fixture(scope="module")
def bucket(cloud):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    put_probes(s3)
    return BUCKET


def run_job(aws, *args: str, isolated: bool = False) -> tuple[dict, list[dict]]:
    """Run the probe job with ``args``; its description and its PROBE reports (read from CloudWatch)."""
    sagemaker = aws("sagemaker")
    name = f"attack-{uuid.uuid4().hex[:10]}"
    extra = {"NetworkConfig": {"EnableNetworkIsolation": True}} if isolated else {}
    sagemaker.create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE,
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
        AppSpecification={
            "ImageUri": IMAGE,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/probes.py"],
            "ContainerArguments": list(args),
        },
        ProcessingInputs=[
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/code/probes.py",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        **extra,
    )
    deadline = time.monotonic() + 60
    while (job := sagemaker.describe_processing_job(ProcessingJobName=name))["ProcessingJobStatus"] == "InProgress":
        assert time.monotonic() < deadline, f"job {name} still running"
        time.sleep(0.05)
    events = aws("logs").filter_log_events(logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=name)
    lines = [event["message"] for event in events["events"] if event["logStreamName"].startswith(f"{name}/")]
    reports = [json.loads(line[len("PROBE ") :]) for line in lines if line.startswith("PROBE ")]
    assert reports, f"the job reported nothing: {job.get('FailureReason')} {lines}"
    return job, reports


def refused_as_expired(cloud, leaked: dict) -> None:
    """The leaked session signs nothing any more, in each protocol's words for an expired token."""
    keys = {
        "aws_access_key_id": leaked["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": leaked["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": leaked["AWS_SESSION_TOKEN"],
    }
    settings = {"endpoint_url": cloud.url, "region_name": "us-east-1", "config": Config(retries={"max_attempts": 1})}
    for service, call, code in (
        ("s3", lambda c: c.list_buckets(), "ExpiredToken"),
        ("sagemaker", lambda c: c.list_models(), "ExpiredTokenException"),
        ("iam", lambda c: c.list_roles(), "ExpiredToken"),
    ):
        with pytest.raises(ClientError) as refused:
            call(boto3.client(service, **keys, **settings))
        assert refused.value.response["Error"]["Code"] == code, (service, refused.value.response["Error"])
    presigned = boto3.client("s3", **keys, **settings).generate_presigned_url(  # SigV2, boto3's default
        "get_object", Params={"Bucket": BUCKET, "Key": "code/probes.py"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(presigned, timeout=10)
    assert b"ExpiredToken" in refused.value.read()


def test_a_jobs_session_signs_while_the_job_runs_and_expires_when_it_ends(aws, bucket, cloud):
    job, [leaked] = run_job(aws, "credentials")
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert leaked["api"] == "reached", "the job's session worked while it ran"
    assert leaked["AWS_ACCESS_KEY_ID"].startswith("ASIA") and leaked["AWS_SESSION_TOKEN"]
    refused_as_expired(cloud, leaked)


def visible_below(folder: Path) -> set[str]:
    """The entries of a host folder that lead to the job image's environment or its Python (bound read-only)."""
    built = environments.find(table.IMAGES[IMAGE_VERSION])
    shown = [*built.mounts(), Path(built.interpreter).resolve()] if built else [Path(sys.prefix), Path(sys.base_prefix)]
    return {Path(p).relative_to(folder).parts[0] for p in shown if Path(p).is_relative_to(folder)}


@pytest.fixture()
def host_folder(tmp_path):
    """A folder on the host that no sandboxed program is given."""
    folder = tmp_path / "host-folder"
    folder.mkdir()
    folder.chmod(0o777)  # even a folder anyone may write is out of reach: it is not in the sandbox
    return folder


@pytest.fixture()
def host_listener():
    """A TCP server on the host's loopback, standing for every other service there; counts connections."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()
    for connection in accepted:
        connection.close()


# the filesystem --------------------------------------------------------------------------------------
def test_remounting_the_root_read_write_is_refused_and_the_host_stays_untouched(aws, bucket, cloud, host_folder):
    home_marker = Path.home() / f"sandbox-marker-{uuid.uuid4().hex}"
    targets = [host_folder / "marker", home_marker, cloud.state.root / "marker", Path("/usr/sandbox-marker")]
    job, (report,) = run_job(aws, "remount", *map(str, targets))
    try:
        assert report["mount"] != 0, "mount must fail without capabilities"
        assert all(result.startswith("refused:") for result in report["writes"].values()), report
        for target in targets:
            assert not target.exists(), f"the job wrote {target} on the host"
        assert job["ProcessingJobStatus"] == "Completed"
    finally:
        home_marker.unlink(missing_ok=True)


def test_host_secrets_other_state_folders_and_home_are_not_visible(aws, bucket, cloud, tmp_path):
    other_state = tmp_path / "other-state"
    other_state.mkdir()
    (other_state / "credentials.json").write_text('{"secret": "another cloud\'s key"}')
    own_state = cloud.state.root
    assert any(own_state.iterdir()), "the cloud's own state folder holds files to protect"
    paths = ["/etc/shadow", str(other_state / "credentials.json"), str(own_state), str(Path.home()), "/root"]
    _, (report,) = run_job(aws, "read", *paths)
    assert report["/etc/shadow"] == "absent"
    assert report[str(other_state / "credentials.json")] == "absent"
    assert report[str(own_state)] == "absent"
    for home in (Path.home(), Path("/root")):
        # at most the way down to the Python installation and the venv, which may live there
        assert report[str(home)] in ("absent", "listing:" + ",".join(sorted(visible_below(home)))), report[str(home)]
    assert "another cloud" not in json.dumps(report)


def test_the_program_is_not_root_has_no_capabilities_and_cannot_gain_any(aws, bucket):
    _, (report,) = run_job(aws, "identity")
    assert report["uid"] != 0 and report["euid"] != 0 and report["gid"] != 0
    assert report["groups"] in ([], [report["gid"]])
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(report[key], 16) == 0, f"{key} is {report[key]}"
    assert report["NoNewPrivs"] == "1"


# the network ----------------------------------------------------------------------------------------
def test_the_api_is_reachable_but_no_other_service_on_the_host_loopback(aws, bucket, host_listener):
    port, accepted = host_listener
    key = f"from-job/{uuid.uuid4().hex}"
    job, (report,) = run_job(aws, "network", str(port), key)
    assert report["api"] == "reached", report
    assert aws("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"from the job"
    assert report["host_port"].startswith("refused:"), report
    assert accepted == [], "the host's listener saw a connection from the sandbox"
    assert job["ProcessingJobStatus"] == "Completed"


def test_network_isolation_leaves_no_network_at_all(aws, bucket, host_listener):
    port, accepted = host_listener
    key = f"from-isolated-job/{uuid.uuid4().hex}"
    _, (report,) = run_job(aws, "network", str(port), key, isolated=True)
    assert report["api"].startswith("failed:"), report
    assert report["host_port"].startswith("refused:"), report
    assert accepted == []
    listed = aws("s3").list_objects_v2(Bucket=BUCKET, Prefix=key)
    assert listed.get("KeyCount", 0) == 0, "an isolated job must not reach the API"


# builds and model servers see the same ---------------------------------------------------------------
def wait_build(codebuild, build_id: str) -> dict:
    deadline = time.monotonic() + 60
    while (build := codebuild.batch_get_builds(ids=[build_id])["builds"][0])["buildStatus"] == "IN_PROGRESS":
        assert time.monotonic() < deadline, f"build {build_id} still running"
        time.sleep(0.1)
    return build


def test_a_build_runs_unprivileged_and_sees_neither_secrets_nor_the_host_loopback(
    aws, cloud, host_folder, host_listener
):
    port, accepted = host_listener
    connect = f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)\""
    buildspec = f"""\
version: 0.2
phases:
  build:
    commands:
      - echo "uid=$(id -u)"
      - grep CapEff /proc/self/status
      - if cat /etc/shadow; then echo shadow=read; else echo shadow=unreadable; fi
      - if ls {cloud.state.root}; then echo state=visible; else echo state=hidden; fi
      - if mount -o remount,rw /; then echo remount=done; else echo remount=refused; fi
      - if echo owned > {host_folder}/marker; then echo marker=written; else echo marker=refused; fi
      - if {connect}; then echo loopback=reached; else echo loopback=refused; fi
      - python3 -c "import boto3; boto3.client('s3').list_buckets(); print('api=reached')"
"""
    codebuild = aws("codebuild")
    codebuild.create_project(
        name="attacker",
        source={"type": "NO_SOURCE", "location": "none", "buildspec": buildspec},
        serviceRole=ROLE,
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
    )
    build = wait_build(codebuild, codebuild.start_build(projectName="attacker")["build"]["id"])
    events = aws("logs").get_log_events(
        logGroupName=build["logs"]["groupName"], logStreamName=build["logs"]["streamName"]
    )
    lines = [event["message"].strip() for event in events["events"]]
    assert build["buildStatus"] == "SUCCEEDED", lines
    uid = next(line for line in lines if line.startswith("uid="))
    assert uid != "uid=0"
    assert "CapEff:\t0000000000000000" in lines or "CapEff: 0000000000000000" in [" ".join(x.split()) for x in lines]
    expected = [
        "shadow=unreadable",
        "state=hidden",
        "remount=refused",
        "marker=refused",
        "loopback=refused",
        "api=reached",
    ]
    for line in expected:
        assert line in lines, (line, lines)
    assert not (host_folder / "marker").exists()
    assert accepted == []


INFERENCE = r"""
import json, os, socket

def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    port = int(body)
    def reach():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=3).close()
            return "reached"
        except OSError:
            return "refused"
    def shadow():
        try:
            open("/etc/shadow").read()
            return "read"
        except OSError as error:
            return type(error).__name__
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
    found = {"uid": os.getuid(), "cap_eff": status["CapEff"].strip(), "shadow": shadow(), "loopback": reach()}
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    found.update({name: os.environ.get(name) for name in names})
    return json.dumps(found), "application/json"
"""


def test_a_model_server_runs_unprivileged_without_the_host_loopback(aws, bucket, cloud, host_listener):
    port, accepted = host_listener
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        data = INFERENCE.encode()
        info = tarfile.TarInfo("code/inference.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    aws("s3").put_object(Bucket=BUCKET, Key="model/model.tar.gz", Body=archive.getvalue())
    sagemaker = aws("sagemaker")
    sagemaker.create_model(
        ModelName="attacker-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
            "ModelDataUrl": f"s3://{BUCKET}/model/model.tar.gz",
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
            },
        },
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="attacker-config",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "attacker-model", "InitialInstanceCount": 1}
            | {"InstanceType": "ml.m5.large"}
        ],
    )
    sagemaker.create_endpoint(EndpointName="attacker", EndpointConfigName="attacker-config")
    deadline = time.monotonic() + 60
    while (endpoint := sagemaker.describe_endpoint(EndpointName="attacker"))["EndpointStatus"] == "Creating":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    try:
        assert endpoint["EndpointStatus"] == "InService", endpoint.get("FailureReason")
        answer = aws("sagemaker-runtime").invoke_endpoint(
            EndpointName="attacker", Body=str(port), ContentType="text/plain", Accept="application/json"
        )
        found = json.loads(answer["Body"].read())
        assert found["uid"] != 0 and int(found["cap_eff"], 16) == 0
        assert found["shadow"] == "FileNotFoundError"
        assert found["loopback"] == "refused" and accepted == []
    finally:
        sagemaker.delete_endpoint(EndpointName="attacker")
    # once its instance stopped, the session the server had is over
    assert found["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    deadline = time.monotonic() + 20
    while "attacker" in {e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]}:
        assert time.monotonic() < deadline, "the endpoint was not deleted"
        time.sleep(0.1)
    refused_as_expired(cloud, found)
