"""kill -9 at random moments: every write the client saw acknowledged is there after the restart.

A bounded workload (puts, overwrites and deletes in a versioned bucket, presigned puts, model
package approvals) runs against a local cloud in its own process, which is killed with SIGKILL at
a random moment, twenty times. After each restart, every acknowledged version is listed and reads
back with its exact bytes, every acknowledged delete marker is there, every acknowledged approval
holds, and no version appears twice. What was in flight when the kill came may or may not be there.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import socket
import threading
import time
import urllib.request

from localcloud.core import config
from localcloud.tools import daemon

BUCKET = "crash-bucket"
GROUP = "crash-group"
KILLS = 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Acknowledged:
    """What the client was told succeeded."""

    def __init__(self):
        self.versions: dict[str, tuple[str, str]] = {}  # version id -> (key, sha256)
        self.markers: dict[str, str] = {}  # delete marker version id -> key
        self.approvals: dict[str, str] = {}  # package arn -> status
        self.in_flight: dict[str, str] = {}  # package arn -> the status of an update the kill cut off


def _workload(url: str, state, seed: int, acked: Acknowledged, packages: list[str], stop: threading.Event) -> None:
    """Write until the server dies; record each write whose success response arrived."""
    rng = random.Random(seed)
    s3 = config.client(url, "s3", state=state)
    sagemaker = config.client(url, "sagemaker", state=state)
    step = 0
    while not stop.is_set():
        step += 1
        key = f"k{rng.randrange(6)}"
        body = os.urandom(rng.choice((10, 1000, 300_000)))
        choice = rng.random()
        try:
            if choice < 0.5:
                version = s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
                acked.versions[version] = (key, hashlib.sha256(body).hexdigest())
            elif choice < 0.65:
                marker = s3.delete_object(Bucket=BUCKET, Key=key)["VersionId"]
                acked.markers[marker] = key
            elif choice < 0.85:
                presigned = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": key})
                request = urllib.request.Request(presigned, data=body, method="PUT", headers={"Content-Type": ""})
                with urllib.request.urlopen(request, timeout=10) as response:
                    version = response.headers["x-amz-version-id"]
                acked.versions[version] = (key, hashlib.sha256(body).hexdigest())
            else:
                arn = rng.choice(packages)
                status = rng.choice(("Approved", "Rejected"))
                acked.in_flight[arn] = status  # it may land without its answer arriving
                sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)
                acked.approvals[arn] = status
                del acked.in_flight[arn]
        except Exception:  # noqa: BLE001 - the server was killed mid-request: this write was not acknowledged
            return


def _check(url: str, state, acked: Acknowledged) -> None:
    s3 = config.client(url, "s3", state=state)
    listed = s3.list_object_versions(Bucket=BUCKET)
    versions = [v["VersionId"] for v in listed.get("Versions", [])]
    markers = [m["VersionId"] for m in listed.get("DeleteMarkers", [])]
    assert len(versions) == len(set(versions)) and len(markers) == len(set(markers)), "a version appears twice"
    missing = set(acked.versions) - set(versions)
    assert not missing, f"acknowledged versions lost: {sorted(missing)}"
    lost_markers = set(acked.markers) - set(markers)
    assert not lost_markers, f"acknowledged delete markers lost: {sorted(lost_markers)}"
    for version, (key, digest) in acked.versions.items():
        body = s3.get_object(Bucket=BUCKET, Key=key, VersionId=version)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == digest, f"{key} {version} came back with other bytes"
    sagemaker = config.client(url, "sagemaker", state=state)
    for arn, status in acked.approvals.items():
        found = sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
        assert found in (status, acked.in_flight.get(arn)), f"{arn}: acknowledged {status}, found {found}"
        acked.approvals[arn] = found  # an update that landed unanswered is now what the next must beat
    acked.in_flight.clear()


def test_nothing_acknowledged_is_lost_across_twenty_kill_9s(tmp_path):
    state = tmp_path / "state"
    port = _free_port()
    status = daemon.start(state, port)
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
    finally:
        daemon.stop(state)
