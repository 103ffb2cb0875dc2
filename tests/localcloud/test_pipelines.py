"""The real ModelBuild pipeline runs on the local cloud, step by step, with real jobs."""

from __future__ import annotations

import json

import pytest

from tests.localcloud import modelbuild_pipeline as mb


@pytest.fixture(scope="module")
def sagemaker(cloud):
    client = cloud.client("sagemaker")
    mb.upsert(client, cloud.client("s3"))
    return client


@pytest.fixture(scope="module")
def good_run(sagemaker):
    arn = mb.start(sagemaker)
    return arn, mb.wait(sagemaker, arn)


def test_good_model_is_registered_pending_approval(sagemaker, good_run):
    arn, described = good_run
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    steps = mb.steps(sagemaker, arn)
    assert {name: s["StepStatus"] for name, s in steps.items()} == {
        "Preprocess": "Succeeded",
        "Train": "Succeeded",
        "Evaluate": "Succeeded",
        "CheckQuality": "Succeeded",
        "Register": "Succeeded",
    }
    assert steps["CheckQuality"]["Metadata"]["Condition"]["Outcome"] == "True"
    package_arn = steps["Register"]["Metadata"]["RegisterModel"]["Arn"]
    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    container = package["InferenceSpecification"]["Containers"][0]
    train_job = sagemaker.describe_training_job(
        TrainingJobName=steps["Train"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
    )
    assert container["ModelDataUrl"] == train_job["ModelArtifacts"]["S3ModelArtifacts"]
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    metadata = package["CustomerMetadataProperties"]
    assert metadata["TestDataS3Uri"].endswith("/test.csv") and arn.rsplit("/", 1)[1] in metadata["TestDataS3Uri"]
    assert float(metadata["AccuracyThreshold"]) == 0.9
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith("evaluation.json")


def test_jobs_report_real_statuses_and_logs(cloud, sagemaker, good_run):
    arn, _ = good_run
    job_arn = mb.steps(sagemaker, arn)["Preprocess"]["Metadata"]["ProcessingJob"]["Arn"]
    job = sagemaker.describe_processing_job(ProcessingJobName=job_arn.rsplit("/", 1)[1])
    assert job["ProcessingJobStatus"] == "Completed"
    assert job["ProcessingEndTime"] >= job["ProcessingStartTime"]
    logs = cloud.client("logs")
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=job["ProcessingJobName"]
    )["logStreams"]
    assert streams, "the job's output should be in CloudWatch Logs"
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=streams[0]["logStreamName"]
    )["events"]
    assert any("preprocess.py" in e["message"] for e in events)


def test_evaluation_report_is_what_the_condition_read(cloud, sagemaker, good_run):
    arn, _ = good_run
    job_arn = mb.steps(sagemaker, arn)["Evaluate"]["Metadata"]["ProcessingJob"]["Arn"]
    job = sagemaker.describe_processing_job(ProcessingJobName=job_arn.rsplit("/", 1)[1])
    output = next(o for o in job["ProcessingOutputConfig"]["Outputs"] if o["OutputName"] == "evaluation")
    bucket, _, prefix = output["S3Output"]["S3Uri"][len("s3://") :].partition("/")
    report = json.loads(cloud.client("s3").get_object(Bucket=bucket, Key=f"{prefix}/evaluation.json")["Body"].read())
    assert report["binary_classification_metrics"]["accuracy"]["value"] >= 0.9


def test_impossible_threshold_fails_with_accuracy_and_registers_nothing(sagemaker, good_run):
    before = sagemaker.list_model_packages(ModelPackageGroupName=mb.GROUP)["ModelPackageSummaryList"]
    arn = mb.start(sagemaker, AccuracyThreshold=1.01)
    described = mb.wait(sagemaker, arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "1.01" in described["FailureReason"] and "accuracy" in described["FailureReason"].lower()
    steps = mb.steps(sagemaker, arn)
    assert "Register" not in steps
    assert steps["CheckQuality"]["Metadata"]["Condition"]["Outcome"] == "False"
    after = sagemaker.list_model_packages(ModelPackageGroupName=mb.GROUP)["ModelPackageSummaryList"]
    assert len(after) == len(before)


def test_corrupt_csv_fails_preprocess_with_the_scripts_message(cloud, sagemaker):
    header = "target,mean_radius,mean_texture\n"
    rows = "".join(f"{i % 2},{10 + i},not-a-number\n" for i in range(40))
    cloud.client("s3").put_object(Bucket=mb.BUCKET, Key="data/corrupt.csv", Body=(header + rows).encode())
    arn = mb.start(sagemaker, InputDataUrl=f"s3://{mb.BUCKET}/data/corrupt.csv")
    described = mb.wait(sagemaker, arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    steps = mb.steps(sagemaker, arn)
    assert steps["Preprocess"]["StepStatus"] == "Failed"
    assert "mean_texture" in steps["Preprocess"]["FailureReason"]
    assert set(steps) == {"Preprocess"}, "nothing after a failed step runs"


def test_unknown_parameter_is_refused(sagemaker):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="NoSuchParameter"):
        mb.start(sagemaker, NoSuchParameter=1)
