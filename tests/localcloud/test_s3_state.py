"""S3 across restarts: every version and delete marker comes back with its exact bytes, and bodies live
in files of their own, so a snapshot holds metadata only."""

from __future__ import annotations

import hashlib
import os
import sqlite3

import boto3
import pytest

from localcloud.core.server import LocalCloud
from tests.localcloud.conftest import reset_moto

BUCKET = "state-bucket"


def _start(state_dir):
    reset_moto()
    cloud = LocalCloud(state_dir).start()
    env = cloud.client_environment()
    s3 = boto3.client(
        "s3",
        endpoint_url=cloud.url,
        region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    return cloud, s3


@pytest.fixture()
def restart(tmp_path):
    """Start a cloud on ``tmp_path``; calling ``restart()`` stops it and starts a new one on the same folder."""
    running = []

    def again():
        if running:
            running.pop().stop()
        cloud, s3 = _start(tmp_path)
        running.append(cloud)
        return cloud, s3

    yield again
    for cloud in running:
        cloud.stop()
    reset_moto()


def _versions(s3, key):
    listed = s3.list_object_versions(Bucket=BUCKET, Prefix=key)
    return (
        [(v["VersionId"], v["IsLatest"], v["Size"]) for v in listed.get("Versions", [])],
        [(m["VersionId"], m["IsLatest"]) for m in listed.get("DeleteMarkers", [])],
    )


def test_every_version_and_delete_marker_survives_a_restart(restart):
    cloud, s3 = restart()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    written = {}
    for index in range(103):
        body = f"version {index}".encode() * (index + 1)
        written[s3.put_object(Bucket=BUCKET, Key="model.txt", Body=body)["VersionId"]] = body
    s3.put_object(Bucket=BUCKET, Key="gone.txt", Body=b"soon deleted")
    marker = s3.delete_object(Bucket=BUCKET, Key="gone.txt")["VersionId"]
    before = (_versions(s3, "model.txt"), _versions(s3, "gone.txt"))

    cloud, s3 = restart()
    assert (_versions(s3, "model.txt"), _versions(s3, "gone.txt")) == before
    assert len(before[0][0]) == 103
    for version_id, body in written.items():
        assert s3.get_object(Bucket=BUCKET, Key="model.txt", VersionId=version_id)["Body"].read() == body
    assert before[1][1][0] == (marker, True)
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=BUCKET, Key="gone.txt")


def _snapshot_blob(cloud) -> bytes:
    """The pickle of moto's backends as the last snapshot wrote it (S3 keys are rows of their own)."""
    with sqlite3.connect(cloud.state.moto_file) as database:
        return database.execute("SELECT backends FROM snapshot").fetchone()[0]


def _key_rows(cloud) -> int:
    with sqlite3.connect(cloud.state.moto_file) as database:
        return database.execute("SELECT count(*) FROM s3_keys").fetchone()[0]


def test_the_snapshot_does_not_grow_with_the_number_of_objects(restart):
    """A write rewrites the key names it changed, not every key: the snapshot stays the same size."""
    cloud, s3 = restart()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="first", Body=b"1")
    few = len(_snapshot_blob(cloud))
    for index in range(300):
        s3.put_object(Bucket=BUCKET, Key=f"many/{index}", Body=b"y" * 100)
    assert len(_snapshot_blob(cloud)) < few + 2048, "keys went into the snapshot itself"
    assert _key_rows(cloud) == 301

    s3.put_object_acl(Bucket=BUCKET, Key="many/7", ACL="public-read")  # a key changed in place
    s3.delete_object(Bucket=BUCKET, Key="many/8")
    s3.put_object(Bucket=BUCKET, Key="many/9", Body=b"second version")
    cloud, s3 = restart()
    keys = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET) for o in page["Contents"]}
    assert len(keys) == 300 and "many/8" not in keys
    grants = s3.get_object_acl(Bucket=BUCKET, Key="many/7")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("/global/AllUsers") for g in grants), grants
    assert s3.get_object(Bucket=BUCKET, Key="many/9")["Body"].read() == b"second version"

    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in sorted(keys)[:1000]]})
    s3.delete_bucket(Bucket=BUCKET)
    assert _key_rows(cloud) == 0, "a deleted bucket's rows stay"


def test_bodies_are_files_and_the_snapshot_holds_metadata_only(restart):
    cloud, s3 = restart()
    s3.create_bucket(Bucket=BUCKET)
    big = os.urandom(8 * 1024 * 1024)
    s3.put_object(Bucket=BUCKET, Key="data/big.bin", Body=big)
    assert len(_snapshot_blob(cloud)) < 1024 * 1024, "the body went into the snapshot"
    bodies = list((cloud.state.root / "s3" / "bodies").iterdir())
    assert [path.stat().st_size for path in bodies] == [len(big)]

    cloud, s3 = restart()
    got = s3.get_object(Bucket=BUCKET, Key="data/big.bin")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(big).digest()
    for header, expected in (("bytes=10-19", big[10:20]), ("bytes=-5", big[-5:]), (f"bytes={len(big) - 3}-", big[-3:])):
        ranged = s3.get_object(Bucket=BUCKET, Key="data/big.bin", Range=header)
        assert ranged["Body"].read() == expected and ranged["ContentLength"] == len(expected)
    s3.download_file(BUCKET, "data/big.bin", str(cloud.state.root.parent / "back.bin"))  # parallel ranged GETs
    assert (cloud.state.root.parent / "back.bin").read_bytes() == big


def test_a_deleted_objects_body_is_removed_by_the_next_start(restart):
    cloud, s3 = restart()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="kept.txt", Body=b"kept")
    s3.put_object(Bucket=BUCKET, Key="dropped.txt", Body=b"dropped")
    s3.delete_object(Bucket=BUCKET, Key="dropped.txt")
    folder = cloud.state.root / "s3" / "bodies"
    assert len(list(folder.iterdir())) == 2

    cloud, s3 = restart()
    assert [path.read_bytes() for path in folder.iterdir()] == [b"kept"]
    assert s3.get_object(Bucket=BUCKET, Key="kept.txt")["Body"].read() == b"kept"


def test_a_multipart_upload_in_progress_survives_a_restart_and_completes(restart):
    cloud, s3 = restart()
    s3.create_bucket(Bucket=BUCKET)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="parts.bin")["UploadId"]
    first = os.urandom(5 * 1024 * 1024)
    etag = s3.upload_part(Bucket=BUCKET, Key="parts.bin", UploadId=upload, PartNumber=1, Body=first)["ETag"]

    cloud, s3 = restart()
    second = b"the last part"
    etag2 = s3.upload_part(Bucket=BUCKET, Key="parts.bin", UploadId=upload, PartNumber=2, Body=second)["ETag"]
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="parts.bin",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}, {"PartNumber": 2, "ETag": etag2}]},
    )
    assert s3.get_object(Bucket=BUCKET, Key="parts.bin")["Body"].read() == first + second


def test_a_completed_upload_made_of_its_parts_files_comes_back_with_every_version(restart):
    cloud, s3 = restart()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    pieces = [os.urandom(5 * 1024 * 1024), os.urandom(5 * 1024 * 1024), b"tail"]
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="joined.bin")["UploadId"]
    parts = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(Bucket=BUCKET, Key="joined.bin", UploadId=upload, PartNumber=n, Body=p)["ETag"],
        }
        for n, p in enumerate(pieces, 1)
    ]
    first = s3.complete_multipart_upload(
        Bucket=BUCKET, Key="joined.bin", UploadId=upload, MultipartUpload={"Parts": parts}
    )["VersionId"]
    second = s3.put_object(Bucket=BUCKET, Key="joined.bin", Body=b"overwritten")["VersionId"]
    whole = b"".join(pieces)

    cloud, s3 = restart()
    got = s3.get_object(Bucket=BUCKET, Key="joined.bin", VersionId=first)["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(whole).digest()
    boundary = len(pieces[0])
    ranged = s3.get_object(
        Bucket=BUCKET, Key="joined.bin", VersionId=first, Range=f"bytes={boundary - 4}-{boundary + 3}"
    )
    assert ranged["Body"].read() == whole[boundary - 4 : boundary + 4]
    assert s3.get_object(Bucket=BUCKET, Key="joined.bin")["Body"].read() == b"overwritten"
    assert [v["VersionId"] for v in s3.list_object_versions(Bucket=BUCKET, Prefix="joined.bin")["Versions"]] == [
        second,
        first,
    ]
    stored = sum(path.stat().st_size for path in (cloud.state.root / "s3" / "bodies").iterdir())
    assert stored == len(whole) + len(b"overwritten")  # the object is its parts' files, not a copy of them
