"""kill -9 at random moments: every write the client saw acknowledged is there after the restart.

A bounded workload (puts, overwrites and deletes in a versioned bucket, presigned puts, model
package approvals, runs of a one-step SageMaker pipeline and blue/green updates of an endpoint) runs
against a local cloud in its own process, which is killed with SIGKILL at a random moment, twenty
times. After each restart, every acknowledged version is listed under its key with its ETag and
reads back with its exact bytes (those acknowledged since the last restart and a sample of the
others, every one of them after the last), every acknowledged delete marker is there, every
acknowledged approval holds, every acknowledged pipeline execution is listed once, the endpoint is
back in service on the configuration it was last updated to (or, for an update the kill cut off, the
one before, saying why) and answers with that configuration's model, and no version appears twice.
At the end every execution finishes with exactly one completed job. What was in flight when the kill
came may or may not be there.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import socket
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from localcloud.core import config
from localcloud.tools import daemon
from tests.localcloud.tagged_models import make_config, upload_tagged_model
from tests.localcloud.test_pipeline_executor import BUCKET as PIPELINE_BUCKET
from tests.localcloud.test_pipeline_executor import ROLE, TINY, tiny

BUCKET = "crash-bucket"
GROUP = "crash-group"
PIPELINE = "crash-pipeline"
ENDPOINT = "crash-endpoint"
CONFIGS = ("blue", "green")
KILLS = 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Acknowledged:
    """What the client was told succeeded."""

    def __init__(self):
        self.versions: dict[str, tuple[str, str, str]] = {}  # version id -> (key, sha256, md5)
        self.read_back: set[str] = set()  # versions whose bytes were read back after a restart
        self.markers: dict[str, str] = {}  # delete marker version id -> key
        self.approvals: dict[str, str] = {}  # package arn -> status
        self.in_flight: dict[str, str] = {}  # package arn -> the status of an update the kill cut off
        self.executions: list[str] = []  # pipeline execution arns whose start was answered
        self.serving = CONFIGS[0]  # the endpoint's configuration as last seen in service
        self.updated_to: str | None = None  # an update sent since then (answered or cut off)
        self.moves = 0  # restarts that found the endpoint on another configuration than before


def _occasional(sagemaker, cycle: int, acked: Acknowledged) -> None:
    """A pipeline run every fifth cycle and an endpoint update every fourth, at the cycle's start, so the
    kill falls somewhere in the job or the deployment they start (more would slow every restart)."""
    if cycle % 5 == 0:
        acked.executions.append(sagemaker.start_pipeline_execution(PipelineName=PIPELINE)["PipelineExecutionArn"])
    if cycle % 4 == 2:
        target = CONFIGS[1 - CONFIGS.index(acked.serving)]
        acked.updated_to = target  # it may land without its answer arriving
        sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=target)


def _workload(url: str, state, seed: int, acked: Acknowledged, packages: list[str], stop: threading.Event) -> None:
    """Write until the server dies; record each write whose success response arrived."""
    rng = random.Random(seed)
    s3 = config.client(url, "s3", state=state)
    sagemaker = config.client(url, "sagemaker", state=state)
    try:
        _occasional(sagemaker, seed, acked)
    except Exception:  # noqa: BLE001 - killed before it was answered
        return
    step = 0
    while not stop.is_set():
        step += 1
        key = f"k{rng.randrange(6)}"
        body = os.urandom(rng.choice((10, 1000, 300_000)))
        choice = rng.random()
        try:
            if choice < 0.5:
                version = s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
                acked.versions[version] = (key, hashlib.sha256(body).hexdigest(), hashlib.md5(body).hexdigest())
            elif choice < 0.65:
                marker = s3.delete_object(Bucket=BUCKET, Key=key)["VersionId"]
                acked.markers[marker] = key
            elif choice < 0.85:
                presigned = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": key})
                request = urllib.request.Request(presigned, data=body, method="PUT", headers={"Content-Type": ""})
                with urllib.request.urlopen(request, timeout=10) as response:
                    version = response.headers["x-amz-version-id"]
                acked.versions[version] = (key, hashlib.sha256(body).hexdigest(), hashlib.md5(body).hexdigest())
            else:
                arn = rng.choice(packages)
                status = rng.choice(("Approved", "Rejected"))
                acked.in_flight[arn] = status  # it may land without its answer arriving
                sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)
                acked.approvals[arn] = status
                del acked.in_flight[arn]
        except Exception:  # noqa: BLE001 - the server was killed mid-request: this write was not acknowledged
            return


def _check(url: str, state, acked: Acknowledged, every_body: bool = False) -> None:
    """Every acknowledged version listed under its key with its ETag; the bytes of those not read back
    since a restart before, of a random sample of the others (all of them with ``every_body``)."""
    s3 = config.client(url, "s3", state=state)
    listed, markers = [], []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET):  # 1,000 a page
        listed += page.get("Versions", [])
        markers += [m["VersionId"] for m in page.get("DeleteMarkers", [])]
    versions = {v["VersionId"]: (v["Key"], v["ETag"].strip('"')) for v in listed}
    count = len(listed)
    assert count == len(versions) and len(markers) == len(set(markers)), "a version appears twice"
    missing = set(acked.versions) - set(versions)
    assert not missing, f"acknowledged versions lost: {sorted(missing)}"
    for version, (key, _, md5) in acked.versions.items():
        assert versions[version] == (key, md5), f"{key} {version} is listed as {versions[version]}"
    lost_markers = set(acked.markers) - set(markers)
    assert not lost_markers, f"acknowledged delete markers lost: {sorted(lost_markers)}"

    def same_bytes(version: str) -> None:
        key, digest, _ = acked.versions[version]
        body = s3.get_object(Bucket=BUCKET, Key=key, VersionId=version)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == digest, f"{key} {version} came back with other bytes"

    unread = [version for version in acked.versions if version not in acked.read_back]
    older = sorted(acked.read_back)
    chosen = older if every_body else random.Random(len(older)).sample(older, min(16, len(older)))
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(same_bytes, unread + chosen))
    acked.read_back.update(unread)
    sagemaker = config.client(url, "sagemaker", state=state)
    _check_pipeline(sagemaker, acked)
    _check_endpoint(sagemaker, url, state, acked)
    for arn, status in acked.approvals.items():
        found = sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
        assert found in (status, acked.in_flight.get(arn)), f"{arn}: acknowledged {status}, found {found}"
        acked.approvals[arn] = found  # an update that landed unanswered is now what the next must beat
    acked.in_flight.clear()


def _check_pipeline(sagemaker, acked: Acknowledged) -> None:
    listed = sagemaker.list_pipeline_executions(PipelineName=PIPELINE, MaxResults=100)["PipelineExecutionSummaries"]
    arns = [summary["PipelineExecutionArn"] for summary in listed]
    assert len(arns) == len(set(arns)), "a pipeline execution appears twice"
    lost = set(acked.executions) - set(arns)
    assert not lost, f"acknowledged pipeline executions lost: {sorted(lost)}"


def _check_endpoint(sagemaker, url: str, state, acked: Acknowledged) -> None:
    """Back in service on what it was last updated to, or on the one before with the reason the update stopped."""
    deadline = time.monotonic() + 60
    while (described := sagemaker.describe_endpoint(EndpointName=ENDPOINT))["EndpointStatus"] != "InService":
        assert described["EndpointStatus"] in ("Creating", "Updating"), described
        assert time.monotonic() < deadline, f"the endpoint is still {described['EndpointStatus']} after a restart"
        time.sleep(0.05)
    found = described["EndpointConfigName"]
    if acked.updated_to is not None and found != acked.updated_to:
        assert found == acked.serving, f"the endpoint serves {found}, neither {acked.serving} nor {acked.updated_to}"
        assert "stopped during the deployment" in described.get("FailureReason", ""), described
    elif acked.updated_to is None:
        assert found == acked.serving, f"the endpoint serves {found}, it was last in service on {acked.serving}"
    runtime = config.client(url, "sagemaker-runtime", state=state)
    answer = runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}", ContentType="application/json")
    assert json.loads(answer["Body"].read())["model"] == found
    acked.moves += found != acked.serving
    acked.serving, acked.updated_to = found, None


def _finish_pipeline(sagemaker, acked: Acknowledged) -> None:
    """Once no kill comes: every execution ends Succeeded, with one completed job (none done twice)."""
    for arn in acked.executions:
        deadline = time.monotonic() + 120
        while (described := sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn))[
            "PipelineExecutionStatus"
        ] == "Executing":
            assert time.monotonic() < deadline, f"{arn} still executing"
            time.sleep(0.2)
        assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
        execution_id = arn.rsplit("/", 1)[1]
        jobs = sagemaker.list_processing_jobs(NameContains=execution_id)["ProcessingJobSummaries"]
        completed = [job["ProcessingJobName"] for job in jobs if job["ProcessingJobStatus"] == "Completed"]
        assert len(completed) == 1, f"{arn}: completed jobs {completed}"


def _set_up_pipeline_and_endpoint(url: str, state, scratch) -> None:
    s3 = config.client(url, "s3", state=state)
    s3.create_bucket(Bucket=PIPELINE_BUCKET)
    s3.put_object(Bucket=PIPELINE_BUCKET, Key="code/tiny.py", Body=TINY.encode())
    sagemaker = config.client(url, "sagemaker", state=state)
    definition = {"Version": "2020-12-01", "Steps": [tiny("Tiny")]}
    sagemaker.create_pipeline(PipelineName=PIPELINE, PipelineDefinition=json.dumps(definition), RoleArn=ROLE)
    for name in CONFIGS:
        make_config(sagemaker, name, upload_tagged_model(s3, scratch, name))
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=CONFIGS[0])
    deadline = time.monotonic() + 60
    while sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] != "InService":
        assert time.monotonic() < deadline, "the endpoint did not come up"
        time.sleep(0.05)


def test_nothing_acknowledged_is_lost_across_twenty_kill_9s(tmp_path):
    state = tmp_path / "state"
    port = _free_port()
    status = daemon.start(state, port)
    _set_up_pipeline_and_endpoint(status.url, state, tmp_path)
    s3 = config.client(status.url, "s3", state=state)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    sagemaker = config.client(status.url, "sagemaker", state=state)
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    packages = [
        sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3",
                        "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz",
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
        )["ModelPackageArn"]
        for _ in range(3)
    ]
    acked = Acknowledged()
    rng = random.Random(20261201)
    try:
        for kill in range(KILLS):
            stop = threading.Event()
            worker = threading.Thread(
                target=_workload, args=(status.url, state, kill, acked, packages, stop), daemon=True
            )
            worker.start()
            time.sleep(rng.uniform(0.05, 0.8))
            os.kill(status.pid, signal.SIGKILL)
            stop.set()
            worker.join(timeout=30)
            while daemon.status(state).running:
                time.sleep(0.02)
            status = daemon.start(state, port)
            _check(status.url, state, acked)
        assert len(acked.versions) > KILLS, "the workload acknowledged too little to prove anything"
        _check(status.url, state, acked, every_body=True)
        assert acked.executions and acked.moves, "no pipeline run or endpoint update was acknowledged"
        _finish_pipeline(config.client(status.url, "sagemaker", state=state), acked)
    finally:
        daemon.stop(state)
