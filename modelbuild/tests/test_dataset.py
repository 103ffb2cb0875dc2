"""The data the pipeline trains on by default: newest landed CSV, else the shipped one."""

from __future__ import annotations

import time

import boto3

from pipelines.dataset import latest_landed_dataset, upload_default_dataset

REGION = "us-east-1"


def test_newest_landed_csv_is_chosen_and_other_files_ignored(aws):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="landing-bucket")
    assert latest_landed_dataset("landing-bucket", REGION) is None
    s3.put_object(Bucket="landing-bucket", Key="data/2026-01.csv", Body=b"target,x\n1,2\n")
    time.sleep(1.1)  # S3 timestamps have one-second resolution
    s3.put_object(Bucket="landing-bucket", Key="data/2026-02.csv", Body=b"target,x\n0,3\n")
    s3.put_object(Bucket="landing-bucket", Key="data/readme.txt", Body=b"not data")
    s3.put_object(Bucket="landing-bucket", Key="other/newer.csv", Body=b"target,x\n1,1\n")
    assert latest_landed_dataset("landing-bucket", REGION) == "s3://landing-bucket/data/2026-02.csv"


def test_an_empty_upload_is_chosen_so_preprocess_can_say_what_is_wrong_with_it(aws):
    """Skipping it would silently train on older data and register a model nobody asked for."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="empty-upload-bucket")
    s3.put_object(Bucket="empty-upload-bucket", Key="data/good.csv", Body=b"target,x\n1,2\n")
    time.sleep(1.1)
    s3.put_object(Bucket="empty-upload-bucket", Key="data/empty.csv", Body=b"")
    assert latest_landed_dataset("empty-upload-bucket", REGION) == "s3://empty-upload-bucket/data/empty.csv"


def test_shipped_dataset_is_staged_once_outside_the_landing_prefix(aws):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="staging-bucket")
    uri = upload_default_dataset("staging-bucket", "project", REGION)
    assert uri == "s3://staging-bucket/project/data/breast_cancer.csv"
    assert latest_landed_dataset("staging-bucket", REGION) is None, "staging must not look like landed data"
