"""Definitions in the classic SDK v2 shapes run too, and independent steps run side by side."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

BUCKET = "shapes-bucket"
ROLE = "arn:aws:iam::123456789012:role/pipeline"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"

TRAIN_SCRIPT = """
import argparse, json, os, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--depth", type=int)
parser.add_argument("--label", type=str)
args = parser.parse_args()
rows = pathlib.Path(os.environ["SM_CHANNEL_TRAIN"], "rows.csv").read_text().splitlines()
model = {"depth": args.depth, "label": args.label, "rows": len(rows), "hosts": json.loads(os.environ["SM_HOSTS"])}
pathlib.Path(os.environ["SM_MODEL_DIR"], "model.json").write_text(json.dumps(model))
"""

SLEEPER = "import time, pathlib; time.sleep(1.0); pathlib.Path('/opt/ml/processing/out/done.txt').write_text('ok')\n"


def _processing(name: str, code_key: str) -> dict:
    """A step as SDK v2's SKLearnProcessor.run(...) emits it."""
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30}
            },
            "AppSpecification": {
                "ImageUri": IMAGE,
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/sleeper.py"],
            },
            "RoleArn": ROLE,
            "ProcessingInputs": [
                {
                    "InputName": "code",
                    "AppManaged": False,
                    "S3Input": {
                        "S3Uri": f"s3://{BUCKET}/{code_key}",
                        "LocalPath": "/opt/ml/processing/input/code",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated",
                    },
                }
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "out",
                        "AppManaged": False,
                        "S3Output": {
                            "S3Uri": f"s3://{BUCKET}/out/{name}",
                            "LocalPath": "/opt/ml/processing/out",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
        },
    }


def _v2_training() -> dict:
    """A step as SDK v2's SKLearn estimator emits it: no entrypoint, the toolkit's hyperparameters."""
    return {
        "Name": "TrainV2",
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
            "ResourceConfig": {"VolumeSizeInGB": 30, "InstanceCount": 1, "InstanceType": "ml.m5.large"},
            "RoleArn": ROLE,
            "InputDataConfig": [
                {
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{BUCKET}/data/train",
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                    "ChannelName": "train",
                }
            ],
            "HyperParameters": {
                "depth": {"Get": "Parameters.Depth"},
                "label": '"forest"',
                "sagemaker_submit_directory": f'"s3://{BUCKET}/code/sourcedir.tar.gz"',
                "sagemaker_program": '"train.py"',
                "sagemaker_container_log_level": "20",
                "sagemaker_region": '"us-east-1"',
            },
        },
    }


@pytest.fixture(scope="module")
def shapes(cloud):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code/sleeper.py", Body=SLEEPER.encode())
    s3.put_object(Bucket=BUCKET, Key="data/train/rows.csv", Body=b"1,2\n3,4\n5,6\n")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size = len(TRAIN_SCRIPT.encode())
        tar.addfile(info, io.BytesIO(TRAIN_SCRIPT.encode()))
    s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=archive.getvalue())
    definition = {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Depth", "Type": "Integer", "DefaultValue": 3}],
        "Steps": [_processing("SleepA", "code/sleeper.py"), _processing("SleepB", "code/sleeper.py"), _v2_training()],
    }
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_pipeline(PipelineName="shapes", PipelineDefinition=json.dumps(definition), RoleArn=ROLE)
    arn = sagemaker.start_pipeline_execution(
        PipelineName="shapes", PipelineParameters=[{"Name": "Depth", "Value": "7"}]
    )["PipelineExecutionArn"]
    from tests.localcloud.modelbuild_pipeline import steps, wait

    return wait(sagemaker, arn), steps(sagemaker, arn)


def test_v2_estimator_runs_the_toolkit_entry_point(cloud, shapes):
    described, steps = shapes
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    job = cloud.client("sagemaker").describe_training_job(
        TrainingJobName=steps["TrainV2"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
    )
    bucket, _, key = job["ModelArtifacts"]["S3ModelArtifacts"][len("s3://") :].partition("/")
    archive = cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        model = json.loads(tar.extractfile("model.json").read())
    assert model == {"depth": 7, "label": "forest", "rows": 3, "hosts": ["algo-1"]}


def test_independent_steps_run_side_by_side(shapes):
    _, steps = shapes
    a, b = steps["SleepA"], steps["SleepB"]
    assert a["StepStatus"] == b["StepStatus"] == "Succeeded"
    assert a["StartTime"] < b["EndTime"] and b["StartTime"] < a["EndTime"], "the two sleeps should overlap"
