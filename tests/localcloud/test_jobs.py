"""Jobs created through the API run for real; without bubblewrap they fail saying how to fix it."""

from __future__ import annotations

import time

import pytest

from localcloud.core import sandbox

BUCKET = "jobs-bucket"
SCRIPT = b"""
import pathlib, sys
rows = pathlib.Path('/opt/ml/processing/input/data/numbers.txt').read_text().split()
total = sum(int(r) for r in rows)
if total < 0:
    sys.exit('negative total: ' + str(total))
pathlib.Path('/opt/ml/processing/output/total.txt').write_text(str(total))
print('summed', len(rows), 'numbers')
"""


def _job(name: str, data_key: str) -> dict:
    return dict(
        ProcessingJobName=name,
        RoleArn="arn:aws:iam::123456789012:role/jobs",
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
        AppSpecification={
            "ImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3",
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/sum.py"],
        },
        ProcessingInputs=[
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/code/sum.py",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/{data_key}",
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
        ],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/out/{name}",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    )


def _wait(sagemaker, name: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = sagemaker.describe_processing_job(ProcessingJobName=name)
        if job["ProcessingJobStatus"] != "InProgress":
            return job
        time.sleep(0.1)
    raise TimeoutError(name)


@pytest.fixture(scope="module")
def bucket(cloud):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code/sum.py", Body=SCRIPT)
    s3.put_object(Bucket=BUCKET, Key="data/good/numbers.txt", Body=b"1 2 3 4")
    s3.put_object(Bucket=BUCKET, Key="data/bad/numbers.txt", Body=b"1 -20")
    return BUCKET


def test_processing_job_runs_and_uploads_its_output(cloud, bucket):
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_processing_job(**_job("sum-good", "data/good"))
    job = _wait(sagemaker, "sum-good")
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert cloud.client("s3").get_object(Bucket=bucket, Key="out/sum-good/total.txt")["Body"].read() == b"10"
    listed = sagemaker.list_processing_jobs(NameContains="sum-good")["ProcessingJobSummaries"]
    assert [j["ProcessingJobStatus"] for j in listed] == ["Completed"]


def test_failing_job_reports_the_programs_last_words(cloud, bucket):
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_processing_job(**_job("sum-bad", "data/bad"))
    job = _wait(sagemaker, "sum-bad")
    assert job["ProcessingJobStatus"] == "Failed"
    assert "negative total: -19" in job["FailureReason"]


def test_duplicate_job_name_is_refused(cloud, bucket):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="already exists"):
        cloud.client("sagemaker").create_processing_job(**_job("sum-good", "data/good"))


def test_without_bubblewrap_jobs_fail_saying_how_to_install_it(cloud, bucket, monkeypatch):
    real_which = sandbox.shutil.which
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None if name == "bwrap" else real_which(name))
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_processing_job(**_job("sum-no-sandbox", "data/good"))
    job = _wait(sagemaker, "sum-no-sandbox")
    assert job["ProcessingJobStatus"] == "Failed"
    assert "bubblewrap" in job["FailureReason"] and "apt-get install bubblewrap" in job["FailureReason"]
