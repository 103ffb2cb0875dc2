"""Hyperparameter tuning jobs run their training jobs and pick the best, through the API and a pipeline.

The training script prints ``validation:accuracy=<value>`` computed from its ``depth`` hyperparameter
(best at depth 3), so which job is best is known in advance; the MetricDefinitions regex reads it from
the job's output as SageMaker reads a container's logs.
"""

from __future__ import annotations

import io
import json
import tarfile
import time

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.modelbuild_pipeline import steps as list_steps
from tests.localcloud.modelbuild_pipeline import wait

BUCKET = "tuning-bucket"
ROLE = "arn:aws:iam::123456789012:role/tuning"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"

TRAIN = """
import argparse, json, os, pathlib
parser = argparse.ArgumentParser()
parser.add_argument('--depth', type=float, default=1)
args, _ = parser.parse_known_args()
rows = pathlib.Path(os.environ['SM_CHANNEL_TRAIN'], 'rows.csv').read_text().split()
accuracy = round(0.9 - abs(args.depth - 3) * 0.1, 4)
pathlib.Path(os.environ['SM_MODEL_DIR'], 'model.json').write_text(json.dumps({'depth': args.depth}))
print(f'epoch 1 validation:accuracy={accuracy - 0.2}')
print(f'rows={len(rows)} validation:accuracy={accuracy}')
"""

SILENT = """
print('trained, but this script reports no metric')
"""

READ_BEST = """
import json, os, pathlib, tarfile
with tarfile.open('/opt/ml/processing/model/model.tar.gz') as tar:
    model = json.load(tar.extractfile('model.json'))
out = {'best_job': os.environ['BEST_JOB'], 'depth': model['depth']}
pathlib.Path('/opt/ml/processing/out/best.json').write_text(json.dumps(out))
"""


def accuracy(depth: float) -> float:
    return round(0.9 - abs(depth - 3) * 0.1, 4)


def _tar(files: dict[str, str]) -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return archive.getvalue()


@pytest.fixture(scope="module")
def sagemaker(cloud):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="data/rows.csv", Body=b"1,2\n3,4\n")
    s3.put_object(Bucket=BUCKET, Key="code/train.tar.gz", Body=_tar({"train.py": TRAIN}))
    s3.put_object(Bucket=BUCKET, Key="code/silent.tar.gz", Body=_tar({"train.py": SILENT}))
    s3.put_object(Bucket=BUCKET, Key="code/read_best.py", Body=READ_BEST.encode())
    return cloud.client("sagemaker")


def definition(code: str = "train", output: str = f"s3://{BUCKET}/models") -> dict:
    """A TrainingJobDefinition as SDK v2's HyperparameterTuner with an SKLearn estimator emits it."""
    return {
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9\.]+)"}],
        },
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/data"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": output},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "StaticHyperParameters": {
            "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/code/{code}.tar.gz"),
            "sagemaker_program": '"train.py"',
            "_tuning_objective_metric": '"validation:accuracy"',
        },
    }


def config(strategy: str, ranges: dict, max_jobs: int | None, parallel: int = 2, **extra) -> dict:
    limits = {"MaxParallelTrainingJobs": parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    return {
        "Strategy": strategy,
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:accuracy"},
        "ResourceLimits": limits,
        "ParameterRanges": ranges,
        **extra,
    }


def categorical(*values) -> dict:
    return {"CategoricalParameterRanges": [{"Name": "depth", "Values": [str(v) for v in values]}]}


def integer(low: int, high: int) -> dict:
    return {"IntegerParameterRanges": [{"Name": "depth", "MinValue": str(low), "MaxValue": str(high)}]}


def tune(sagemaker, name: str, tuning_config: dict, job_definition: dict | None = None, timeout: float = 120) -> dict:
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig=tuning_config,
        TrainingJobDefinition=job_definition or definition(),
    )
    return wait_tuning(sagemaker, name, timeout)


def wait_tuning(sagemaker, name: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if described["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"):
            return described
        time.sleep(0.2)
    raise TimeoutError(f"tuning job {name} still running after {timeout} s")


def training_jobs(sagemaker, name: str, **kwargs) -> list[dict]:
    return sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=name, **kwargs)[
        "TrainingJobSummaries"
    ]


def test_a_grid_search_runs_every_combination_and_picks_the_best(sagemaker):
    described = tune(sagemaker, "grid-depth", config("Grid", categorical(1, 3, 5), None))
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    jobs = training_jobs(sagemaker, "grid-depth")
    assert sorted(j["TunedHyperParameters"]["depth"] for j in jobs) == ["1", "3", "5"]
    assert all(j["TrainingJobStatus"] == "Completed" and j["ObjectiveStatus"] == "Succeeded" for j in jobs), jobs
    best = described["BestTrainingJob"]
    assert best["TunedHyperParameters"] == {"depth": "3"}
    assert best["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Maximize",
        "MetricName": "validation:accuracy",
        "Value": pytest.approx(0.9),
    }
    assert described["TrainingJobStatusCounters"]["Completed"] == 3
    assert described["ObjectiveStatusCounters"] == {"Succeeded": 3, "Pending": 0, "Failed": 0}
    # each training job is a real one: its description carries the metric (the last value printed)
    job = sagemaker.describe_training_job(TrainingJobName=best["TrainingJobName"])
    assert job["TuningJobArn"] == described["HyperParameterTuningJobArn"]
    assert {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]} == {
        "validation:accuracy": pytest.approx(0.9)
    }
    assert (
        job["ModelArtifacts"]["S3ModelArtifacts"]
        == f"s3://{BUCKET}/models/{best['TrainingJobName']}/output/model.tar.gz"
    )
    ranked = training_jobs(sagemaker, "grid-depth", SortBy="FinalObjectiveMetricValue", SortOrder="Descending")
    assert [j["TunedHyperParameters"]["depth"] for j in ranked][0] == "3"


def test_a_grid_larger_than_max_number_of_training_jobs_runs_only_that_many(sagemaker):
    described = tune(sagemaker, "grid-capped", config("Grid", categorical(1, 2, 3, 4, 5), 2))
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert len(training_jobs(sagemaker, "grid-capped")) == 2


def test_a_random_search_runs_max_number_of_training_jobs_and_the_best_has_the_best_objective(sagemaker):
    described = tune(sagemaker, "random-depth", config("Random", integer(1, 6), 4, parallel=3, RandomSeed=7))
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    jobs = training_jobs(sagemaker, "random-depth")
    assert len(jobs) == 4
    depths = [int(j["TunedHyperParameters"]["depth"]) for j in jobs]
    assert all(1 <= d <= 6 for d in depths)
    for job in jobs:
        expected = accuracy(int(job["TunedHyperParameters"]["depth"]))
        assert job["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(expected)
    best_value = max(accuracy(d) for d in depths)
    assert described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(
        best_value
    )


def test_a_tuning_job_ends_once_the_target_objective_is_reached(sagemaker):
    completion = {"TuningJobCompletionCriteria": {"TargetObjectiveMetricValue": 0.85}}
    described = tune(sagemaker, "targeted", config("Grid", categorical(1, 3, 5, 4), None, parallel=1, **completion))
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert [
        j["TunedHyperParameters"]["depth"]
        for j in training_jobs(sagemaker, "targeted", SortBy="CreationTime", SortOrder="Ascending")
    ] == ["1", "3"]
    assert described["BestTrainingJob"]["TunedHyperParameters"] == {"depth": "3"}


def test_bayesian_runs_as_a_random_search(sagemaker):
    described = tune(sagemaker, "bayes-depth", config("Bayesian", integer(1, 5), 2))
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert len(training_jobs(sagemaker, "bayes-depth")) == 2


def test_jobs_that_report_no_objective_fail_the_tuning_job_saying_so(sagemaker):
    described = tune(sagemaker, "silent-jobs", config("Grid", categorical(1, 2), None), definition("silent"))
    assert described["HyperParameterTuningJobStatus"] == "Failed"
    assert "No training job reported the objective metric 'validation:accuracy'" in described["FailureReason"]
    jobs = training_jobs(sagemaker, "silent-jobs")
    assert [j["ObjectiveStatus"] for j in jobs] == ["Failed", "Failed"]
    assert described["ObjectiveStatusCounters"]["Failed"] == 2


def test_stopping_a_tuning_job_starts_no_more_training_jobs(sagemaker):
    sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="stopped-early",
        HyperParameterTuningJobConfig=config("Grid", categorical(1, 2, 3, 4, 5, 6), None, parallel=1),
        TrainingJobDefinition=definition(),
    )
    sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="stopped-early")
    described = wait_tuning(sagemaker, "stopped-early")
    assert described["HyperParameterTuningJobStatus"] == "Stopped"
    assert len(training_jobs(sagemaker, "stopped-early")) < 6


@pytest.mark.parametrize(
    ("tuning_config", "job_definition", "says"),
    [
        (config("Grid", integer(1, 3), None), None, "the Grid strategy takes only CategoricalParameterRanges"),
        (config("Hyperband", integer(1, 3), 2), None, "Hyperband"),
        (config("Random", integer(1, 3), None), None, "MaxNumberOfTrainingJobs is required"),
        (config("Random", integer(5, 3), 2), None, "MinValue 5 is greater than MaxValue 3"),
        (
            config("Random", integer(1, 3), 2),
            {**definition(), "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"}},
            "has no MetricDefinitions entry",
        ),
    ],
)
def test_bad_tuning_requests_are_refused_naming_the_field(sagemaker, tuning_config, job_definition, says):
    with pytest.raises(ClientError) as refused:
        sagemaker.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="refused",
            HyperParameterTuningJobConfig=tuning_config,
            TrainingJobDefinition=job_definition or definition(),
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert says in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="refused")


# the pipeline step -------------------------------------------------------------------------------
def tuning_pipeline() -> dict:
    """A TuningStep (as SDK v2 emits it) and a processing step reading the best model through
    ``get_top_model_s3_uri`` (a Std:Join of TrainingJobSummaries[0]) and BestTrainingJob."""
    top_model = {
        "Std:Join": {
            "On": "/",
            "Values": [
                "s3:/",
                BUCKET,
                "tuned",
                {"Get": "Steps.Tune.TrainingJobSummaries[0].TrainingJobName"},
                "output/model.tar.gz",
            ],
        }
    }
    out = {"Std:Join": {"On": "/", "Values": [f"s3://{BUCKET}/best", {"Get": "Execution.PipelineExecutionId"}]}}
    return {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            {
                "Name": "Tune",
                "Type": "Tuning",
                "Arguments": {
                    "HyperParameterTuningJobConfig": config("Grid", categorical(5, 3, 1), None),
                    "TrainingJobDefinition": definition(output=f"s3://{BUCKET}/tuned"),
                },
            },
            {
                "Name": "ReadBest",
                "Type": "Processing",
                "Arguments": {
                    "ProcessingResources": {
                        "ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30}
                    },
                    "AppSpecification": {
                        "ImageUri": IMAGE,
                        "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/read_best.py"],
                    },
                    "RoleArn": ROLE,
                    "Environment": {"BEST_JOB": {"Get": "Steps.Tune.BestTrainingJob.TrainingJobName"}},
                    "ProcessingInputs": [
                        {
                            "InputName": "model",
                            "S3Input": {
                                "S3Uri": top_model,
                                "LocalPath": "/opt/ml/processing/model",
                                "S3DataType": "S3Prefix",
                                "S3InputMode": "File",
                            },
                        },
                        {
                            "InputName": "code",
                            "S3Input": {
                                "S3Uri": f"s3://{BUCKET}/code/read_best.py",
                                "LocalPath": "/opt/ml/processing/input/code",
                                "S3DataType": "S3Prefix",
                                "S3InputMode": "File",
                            },
                        },
                    ],
                    "ProcessingOutputConfig": {
                        "Outputs": [
                            {
                                "OutputName": "out",
                                "S3Output": {
                                    "S3Uri": out,
                                    "LocalPath": "/opt/ml/processing/out",
                                    "S3UploadMode": "EndOfJob",
                                },
                            }
                        ]
                    },
                },
            },
        ],
    }


def test_a_tuning_step_feeds_the_best_model_to_the_next_step(cloud, sagemaker):
    sagemaker.create_pipeline(PipelineName="tuned", PipelineDefinition=json.dumps(tuning_pipeline()), RoleArn=ROLE)
    arn = sagemaker.start_pipeline_execution(PipelineName="tuned")["PipelineExecutionArn"]
    described = wait(sagemaker, arn, 180)
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    steps = list_steps(sagemaker, arn)
    tuning_arn = steps["Tune"]["Metadata"]["TuningJob"]["Arn"]
    tuning_name = tuning_arn.rsplit("/", 1)[1]
    tuned = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_name)
    assert len(training_jobs(sagemaker, tuning_name)) == 3
    best = tuned["BestTrainingJob"]
    assert best["TunedHyperParameters"] == {"depth": "3"}
    body = cloud.client("s3").get_object(Bucket=BUCKET, Key=f"best/{arn.rsplit('/', 1)[1]}/best.json")["Body"].read()
    assert json.loads(body) == {"best_job": best["TrainingJobName"], "depth": 3}


def test_a_cached_tuning_step_reuses_the_earlier_tuning_job(sagemaker):
    cached = tuning_pipeline()
    cached["Steps"] = cached["Steps"][:1]
    cached["Steps"][0]["CacheConfig"] = {"Enabled": True, "ExpireAfter": "PT1H"}
    sagemaker.create_pipeline(PipelineName="tuned-cached", PipelineDefinition=json.dumps(cached), RoleArn=ROLE)
    runs = []
    for _ in range(2):
        arn = sagemaker.start_pipeline_execution(PipelineName="tuned-cached")["PipelineExecutionArn"]
        assert wait(sagemaker, arn, 180)["PipelineExecutionStatus"] == "Succeeded"
        runs.append(list_steps(sagemaker, arn)["Tune"])
    assert runs[1]["Metadata"] == runs[0]["Metadata"]
    assert "CacheHitResult" in runs[1] and "CacheHitResult" not in runs[0]


def test_a_tuning_job_cut_off_by_a_restart_goes_on_with_its_plan(tmp_path, monkeypatch):
    import boto3

    from localcloud.core.server import LocalCloud
    from tests.localcloud.conftest import reset_moto

    def start() -> LocalCloud:
        reset_moto()
        started = LocalCloud(tmp_path / "state").start()
        for key, value in started.client_environment().items():
            monkeypatch.setenv(key, value)
        boto3.DEFAULT_SESSION = None
        return started

    local = start()
    try:
        client = local.client("sagemaker")
        s3 = local.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="data/rows.csv", Body=b"1,2\n")
        s3.put_object(Bucket=BUCKET, Key="code/train.tar.gz", Body=_tar({"train.py": TRAIN}))
        client.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="across-restart",
            HyperParameterTuningJobConfig=config("Grid", categorical(1, 2, 3, 4), None, parallel=1),
            TrainingJobDefinition=definition(),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = [j for j in training_jobs(client, "across-restart") if j["TrainingJobStatus"] == "Completed"]
            if done:
                break
            time.sleep(0.1)
        assert (
            client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="across-restart")[
                "HyperParameterTuningJobStatus"
            ]
            == "InProgress"
        )
    finally:
        local.stop()
    local = start()
    try:
        client = local.client("sagemaker")
        described = wait_tuning(client, "across-restart")
        assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
        jobs = training_jobs(client, "across-restart")
        assert sorted(j["TunedHyperParameters"]["depth"] for j in jobs) == ["1", "2", "3", "4"]
        assert described["ObjectiveStatusCounters"]["Succeeded"] == 4, jobs
        assert described["BestTrainingJob"]["TunedHyperParameters"] == {"depth": "3"}
    finally:
        local.stop()
        reset_moto()
