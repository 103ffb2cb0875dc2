"""The pipeline executor runs users' own definitions as SageMaker does.

Definitions here are written by hand in SageMaker's schema (Version 2020-12-01), in the shapes SDK v2
emits: SKLearnProcessor and ScriptProcessor steps, an SKLearn estimator with entry_point and
source_dir, a PropertyFile read by a ConditionStep, and ``ModelStep(model.register())`` with an
``entry_point``, which puts a repack Training step (``<name>-RepackModel-0``) and the RegisterModel
step in the condition's if-branch. Jobs are tiny python scripts on a few rows.
"""

from __future__ import annotations

import io
import json
import tarfile
import time

import pytest

from localcloud.core import sandbox
from localcloud.services.sagemaker import caching
from tests.localcloud.modelbuild_pipeline import steps as list_steps
from tests.localcloud.modelbuild_pipeline import wait

BUCKET = "executor-bucket"
GROUP = "executor-models"
ROLE = "arn:aws:iam::123456789012:role/pipeline"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
REPACK_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"

ROWS = "".join(f"{i % 2},{i}\n" for i in range(12))  # label,value: odd values are label 1

PREPROCESS = """
import pathlib
rows = pathlib.Path('/opt/ml/processing/input/data/rows.csv').read_text().splitlines()
pathlib.Path('/opt/ml/processing/train/train.csv').write_text('\\n'.join(rows[:8]) + '\\n')
pathlib.Path('/opt/ml/processing/test/test.csv').write_text('\\n'.join(rows[8:]) + '\\n')
print('split', len(rows), 'rows')
"""

TRAIN = """
import json, os, pathlib
rows = [r.split(',') for r in pathlib.Path(os.environ['SM_CHANNEL_TRAIN'], 'train.csv').read_text().split()]
model = {'rule': 'odd', 'rows': len(rows)}
pathlib.Path(os.environ['SM_MODEL_DIR'], 'model.json').write_text(json.dumps(model))
"""

EVALUATE = """
import json, pathlib, tarfile
with tarfile.open('/opt/ml/processing/model/model.tar.gz') as tar:
    model = json.load(tar.extractfile('model.json'))
rows = [r.split(',') for r in pathlib.Path('/opt/ml/processing/test/test.csv').read_text().split()]
right = sum(int(label) == int(value) % 2 for label, value in rows)
report = {'metrics': {'accuracy': {'value': right / len(rows)}}, 'model': model}
pathlib.Path('/opt/ml/processing/evaluation/evaluation.json').write_text(json.dumps(report))
"""

INFERENCE = "def model_fn(model_dir):\n    return 'odd'\n"

# The launcher SDK v2 writes next to its repack script, and a small repack script of ours that does
# what SDK v2's does: unpack the trained model and put the inference code under code/.
REPACK_LAUNCHER = """#!/bin/bash

var_dependencies="${SM_HP_DEPENDENCIES}"
var_inference_script="${SM_HP_INFERENCE_SCRIPT}"
var_model_archive="${SM_HP_MODEL_ARCHIVE}"
var_source_dir="${SM_HP_SOURCE_DIR}"

python _repack_model.py \\
--dependencies "${var_dependencies}" \\
--inference_script "${var_inference_script}" \\
--model_archive "${var_model_archive}" \\
--source_dir "${var_source_dir}"
"""

REPACK_MODEL = """
import argparse, os, pathlib, shutil, tarfile
parser = argparse.ArgumentParser()
for name in ('--inference_script', '--model_archive', '--dependencies', '--source_dir'):
    parser.add_argument(name, default=None)
args = parser.parse_args()
archive = pathlib.Path('/opt/ml/input/data/training', os.path.basename(args.model_archive))
with tarfile.open(archive) as tar:
    tar.extractall('/opt/ml/model', filter='data')
pathlib.Path('/opt/ml/model/code').mkdir()
shutil.copy2(args.inference_script, '/opt/ml/model/code/' + args.inference_script)
"""

FAILING = "import sys\nprint('the script gives up')\nsys.exit(3)\n"
TINY = "import pathlib\npathlib.Path('/opt/ml/processing/out/done.txt').write_text('ok')\n"


def _tar(files: dict[str, str]) -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return archive.getvalue()


def _s3_input(name: str, uri, local: str) -> dict:
    return {
        "InputName": name,
        "AppManaged": False,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
            "S3CompressionType": "None",
        },
    }


def _s3_output(name: str, uri, local: str) -> dict:
    return {
        "OutputName": name,
        "AppManaged": False,
        "S3Output": {"S3Uri": uri, "LocalPath": local, "S3UploadMode": "EndOfJob"},
    }


def processing(name: str, script: str, inputs=(), outputs=(), environment=None, **extra) -> dict:
    """A step as SDK v2's SKLearnProcessor/ScriptProcessor .run(...) emits it; the code is the last input."""
    arguments = {
        "ProcessingResources": {
            "ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30}
        },
        "AppSpecification": {
            "ImageUri": IMAGE,
            "ContainerEntrypoint": ["python3", f"/opt/ml/processing/input/code/{script}"],
        },
        "RoleArn": ROLE,
        "ProcessingInputs": [
            *inputs,
            _s3_input("code", f"s3://{BUCKET}/code/{script}", "/opt/ml/processing/input/code"),
        ],
        "ProcessingOutputConfig": {"Outputs": list(outputs)},
    }
    if environment:
        arguments["Environment"] = environment
    return {"Name": name, "Type": "Processing", "Arguments": arguments, **extra}


def tiny(name: str, **extra) -> dict:
    out = _s3_output(
        "out",
        {"Std:Join": {"On": "/", "Values": [f"s3://{BUCKET}/tiny", {"Get": "Execution.PipelineExecutionId"}, name]}},
        "/opt/ml/processing/out",
    )
    return processing(name, "tiny.py", outputs=[out], **extra)


def _output_uri(step: str, output: str) -> dict:
    return {"Get": f"Steps.{step}.ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri"}


def _per_execution(*parts: str) -> dict:
    return {"Std:Join": {"On": "/", "Values": [f"s3://{BUCKET}", {"Get": "Execution.PipelineExecutionId"}, *parts]}}


def preprocess_step(**extra) -> dict:
    return processing(
        "Preprocess",
        "preprocess.py",
        inputs=[_s3_input("input-1", {"Get": "Parameters.InputData"}, "/opt/ml/processing/input/data")],
        outputs=[
            _s3_output("train", _per_execution("Preprocess", "train"), "/opt/ml/processing/train"),
            _s3_output("test", _per_execution("Preprocess", "test"), "/opt/ml/processing/test"),
        ],
        **extra,
    )


def train_step(**extra) -> dict:
    """As SDK v2's SKLearn estimator with entry_point and source_dir emits it (the toolkit's hyperparameters)."""
    return {
        "Name": "Train",
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
                            "S3Uri": _output_uri("Preprocess", "train"),
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                    "ContentType": "text/csv",
                    "ChannelName": "train",
                }
            ],
            "HyperParameters": {
                "sagemaker_submit_directory": f'"s3://{BUCKET}/code/train-sourcedir.tar.gz"',
                "sagemaker_program": '"train.py"',
                "sagemaker_container_log_level": "20",
                "sagemaker_region": '"us-east-1"',
            },
            "DebugHookConfig": {"S3OutputPath": f"s3://{BUCKET}/debug", "CollectionConfigurations": []},
            "ProfilerConfig": {"S3OutputPath": f"s3://{BUCKET}/profiler", "DisableProfiler": False},
        },
        **extra,
    }


def evaluate_step() -> dict:
    step = processing(
        "Evaluate",
        "evaluate.py",
        inputs=[
            _s3_input("input-1", {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}, "/opt/ml/processing/model"),
            _s3_input("input-2", _output_uri("Preprocess", "test"), "/opt/ml/processing/test"),
        ],
        outputs=[_s3_output("evaluation", _per_execution("Evaluate"), "/opt/ml/processing/evaluation")],
    )
    step["PropertyFiles"] = [
        {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": "evaluation.json"}
    ]
    return step


def repack_step() -> dict:
    """The Training step SDK v2 adds for model.register() with an entry_point (_RepackModelStep)."""
    model_data = {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    return {
        "Name": "RegisterOddModel-RepackModel-0",
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": REPACK_IMAGE},
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/repacked"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
            "ResourceConfig": {"VolumeSizeInGB": 30, "InstanceCount": 1, "InstanceType": "ml.m5.large"},
            "RoleArn": ROLE,
            "InputDataConfig": [
                {
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": model_data,
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                    "ChannelName": "training",
                }
            ],
            "HyperParameters": {
                "inference_script": '"inference.py"',
                "model_archive": {"Std:Join": {"On": "", "Values": [model_data]}},
                "dependencies": "null",
                "source_dir": "null",
                "sagemaker_submit_directory": f'"s3://{BUCKET}/RegisterOddModel-RepackModel-0/source/sourcedir.tar.gz"',
                "sagemaker_program": '"_repack_script_launcher.sh"',
                "sagemaker_container_log_level": "20",
                "sagemaker_region": '"us-east-1"',
            },
            "DebugHookConfig": {"S3OutputPath": f"s3://{BUCKET}/", "CollectionConfigurations": []},
            "ProfilerConfig": {"DisableProfiler": True},
        },
        "Description": "Used to repack a model with a custom inference script",
    }


def register_step() -> dict:
    return {
        "Name": "RegisterOddModel-RegisterModel",
        "Type": "RegisterModel",
        "Arguments": {
            "ModelPackageGroupName": GROUP,
            "ModelMetrics": {
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": {
                            "Std:Join": {
                                "On": "/",
                                "Values": [_output_uri("Evaluate", "evaluation"), "evaluation.json"],
                            }
                        },
                    }
                },
                "Bias": {},
                "Explainability": {},
            },
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": IMAGE,
                        "Environment": {
                            "SAGEMAKER_PROGRAM": "inference.py",
                            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                            "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                            "SAGEMAKER_REGION": "us-east-1",
                        },
                        "ModelDataUrl": {"Get": "Steps.RegisterOddModel-RepackModel-0.ModelArtifacts.S3ModelArtifacts"},
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
                "SupportedRealtimeInferenceInstanceTypes": ["ml.t2.medium"],
                "SupportedTransformInstanceTypes": ["ml.m5.large"],
            },
            "ModelApprovalStatus": {"Get": "Parameters.ModelApprovalStatus"},
        },
    }


def classic_definition() -> dict:
    accuracy = {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
            "Path": "metrics.accuracy.value",
        }
    }
    return {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": [
            {"Name": "InputData", "Type": "String", "DefaultValue": f"s3://{BUCKET}/data/rows.csv"},
            {"Name": "ModelApprovalStatus", "Type": "String", "DefaultValue": "PendingManualApproval"},
            {"Name": "AccuracyThreshold", "Type": "Float", "DefaultValue": 0.7},
        ],
        "PipelineExperimentConfig": {
            "ExperimentName": {"Get": "Execution.PipelineName"},
            "TrialName": {"Get": "Execution.PipelineExecutionId"},
        },
        "Steps": [
            preprocess_step(),
            train_step(),
            evaluate_step(),
            {
                "Name": "CheckAccuracy",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [
                        {
                            "Type": "GreaterThanOrEqualTo",
                            "LeftValue": accuracy,
                            "RightValue": {"Get": "Parameters.AccuracyThreshold"},
                        }
                    ],
                    "IfSteps": [repack_step(), register_step()],
                    "ElseSteps": [
                        {
                            "Name": "AccuracyTooLow",
                            "Type": "Fail",
                            "Arguments": {
                                "ErrorMessage": {
                                    "Std:Join": {
                                        "On": " ",
                                        "Values": ["accuracy below", {"Get": "Parameters.AccuracyThreshold"}],
                                    }
                                }
                            },
                        }
                    ],
                },
            },
        ],
    }


@pytest.fixture(scope="module")
def sagemaker(cloud):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="data/rows.csv", Body=ROWS.encode())
    for key, text in {
        "preprocess.py": PREPROCESS,
        "evaluate.py": EVALUATE,
        "failing.py": FAILING,
        "tiny.py": TINY,
    }.items():
        s3.put_object(Bucket=BUCKET, Key=f"code/{key}", Body=text.encode())
    s3.put_object(Bucket=BUCKET, Key="code/train-sourcedir.tar.gz", Body=_tar({"train.py": TRAIN}))
    repack_source = _tar(
        {"inference.py": INFERENCE, "_repack_model.py": REPACK_MODEL, "_repack_script_launcher.sh": REPACK_LAUNCHER}
    )
    s3.put_object(Bucket=BUCKET, Key="RegisterOddModel-RepackModel-0/source/sourcedir.tar.gz", Body=repack_source)
    client = cloud.client("sagemaker")
    client.create_model_package_group(ModelPackageGroupName=GROUP)
    return client


def run(
    sagemaker, pipeline: str, definition: dict | None = None, timeout: float = 120, **parameters
) -> tuple[str, dict, dict]:
    """(Create or update and) start the pipeline, wait for the end: (arn, described, steps by name)."""
    if definition is not None:
        body = json.dumps(definition)
        existing = sagemaker.list_pipelines(PipelineNamePrefix=pipeline)["PipelineSummaries"]
        if any(p["PipelineName"] == pipeline for p in existing):
            sagemaker.update_pipeline(PipelineName=pipeline, PipelineDefinition=body, RoleArn=ROLE)
        else:
            sagemaker.create_pipeline(PipelineName=pipeline, PipelineDefinition=body, RoleArn=ROLE)
    arn = sagemaker.start_pipeline_execution(
        PipelineName=pipeline, PipelineParameters=[{"Name": k, "Value": str(v)} for k, v in parameters.items()]
    )["PipelineExecutionArn"]
    return arn, wait(sagemaker, arn, timeout), list_steps(sagemaker, arn)


def jobs_of(sagemaker, arn: str) -> list[str]:
    execution_id = arn.rsplit("/", 1)[1]
    processing_jobs = sagemaker.list_processing_jobs(NameContains=execution_id)["ProcessingJobSummaries"]
    training_jobs = sagemaker.list_training_jobs(NameContains=execution_id)["TrainingJobSummaries"]
    return [j["ProcessingJobName"] for j in processing_jobs] + [j["TrainingJobName"] for j in training_jobs]


def _job_name(metadata: dict) -> str:
    (job,) = metadata.values()
    return job["Arn"].rsplit("/", 1)[1]


# the classic shape: condition -> repack -> register in the if-branch ------------------------------


@pytest.fixture(scope="module")
def classic_good(sagemaker):
    return run(sagemaker, "classic", classic_definition())


def test_classic_shape_repacks_and_registers_in_the_if_branch(cloud, sagemaker, classic_good):
    arn, described, steps = classic_good
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    assert {name: s["StepStatus"] for name, s in steps.items()} == {
        "Preprocess": "Succeeded",
        "Train": "Succeeded",
        "Evaluate": "Succeeded",
        "CheckAccuracy": "Succeeded",
        "RegisterOddModel-RepackModel-0": "Succeeded",
        "RegisterOddModel-RegisterModel": "Succeeded",
    }, "the else-branch's Fail step is not listed: it did not run"
    assert steps["CheckAccuracy"]["Metadata"]["Condition"]["Outcome"] == "True"

    repack = sagemaker.describe_training_job(
        TrainingJobName=_job_name(steps["RegisterOddModel-RepackModel-0"]["Metadata"])
    )
    package_arn = steps["RegisterOddModel-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    assert package["ModelPackageGroupName"] == GROUP
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == repack["ModelArtifacts"]["S3ModelArtifacts"], "the repacked model is registered"
    bucket, _, key = container["ModelDataUrl"][len("s3://") :].partition("/")
    body = cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        names = set(tar.getnames())
        assert json.loads(tar.extractfile("model.json").read()) == {"rule": "odd", "rows": 8}
    assert {"model.json", "code/inference.py"} <= {n.lstrip("./") for n in names}


def test_classic_shape_takes_the_else_branch_when_the_condition_is_false(sagemaker, classic_good):
    before = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    arn, described, steps = run(sagemaker, "classic", AccuracyThreshold=1.01)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "accuracy below 1.01"
    assert steps["CheckAccuracy"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert steps["AccuracyTooLow"]["StepStatus"] == "Failed"
    assert not {"RegisterOddModel-RepackModel-0", "RegisterOddModel-RegisterModel"} & set(steps)
    assert len(jobs_of(sagemaker, arn)) == 3, "no repack job ran"
    after = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    assert len(after) == len(before)


# definitions that cannot finish fail, naming the steps ------------------------------------------


def _branching(if_steps: list, else_steps: list, after: list) -> dict:
    return {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Route", "Type": "String", "DefaultValue": "if"}],
        "Steps": [
            {
                "Name": "Route",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [{"Type": "Equals", "LeftValue": {"Get": "Parameters.Route"}, "RightValue": "if"}],
                    "IfSteps": if_steps,
                    "ElseSteps": else_steps,
                },
            },
            *after,
        ],
    }


def test_a_step_waiting_for_a_branch_not_taken_fails_the_execution_naming_both(sagemaker):
    definition = _branching([tiny("IfWork")], [tiny("ElseWork")], [tiny("AfterElse", DependsOn=["ElseWork"])])
    _, described, steps = run(sagemaker, "waits-for-else", definition)
    assert described["PipelineExecutionStatus"] == "Failed"
    reason = described["FailureReason"]
    assert "'AfterElse'" in reason and "'ElseWork'" in reason and "not taken" in reason, reason
    assert steps["IfWork"]["StepStatus"] == "Succeeded"
    assert set(steps) == {"Route", "IfWork"}, "steps of the branch not taken are not listed"


def test_the_same_definition_runs_through_when_the_branch_it_needs_is_taken(sagemaker):
    definition = _branching([tiny("IfWork")], [tiny("ElseWork")], [tiny("AfterElse", DependsOn=["ElseWork"])])
    _, described, steps = run(sagemaker, "waits-for-else", definition, Route="else")
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    assert set(steps) == {"Route", "ElseWork", "AfterElse"}


def test_nested_branch_steps_depend_on_each_other_and_on_steps_outside(sagemaker):
    inner = {
        "Name": "Inner",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [{"Type": "Equals", "LeftValue": {"Get": "Parameters.Route"}, "RightValue": "if"}],
            "IfSteps": [tiny("InnerWork", DependsOn=["FirstInBranch", "Outside"])],
            "ElseSteps": [],
        },
    }
    definition = _branching([tiny("FirstInBranch"), inner], [], [tiny("Outside")])
    _, described, steps = run(sagemaker, "nested", definition)
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    assert set(steps) == {"Route", "FirstInBranch", "Outside", "Inner", "InnerWork"}
    assert steps["InnerWork"]["StartTime"] >= max(steps["FirstInBranch"]["EndTime"], steps["Outside"]["EndTime"])


def test_a_cycle_fails_at_once_naming_its_steps(sagemaker):
    definition = {
        "Version": "2020-12-01",
        "Steps": [tiny("A", DependsOn=["B"]), tiny("B", DependsOn=["A"]), tiny("Free")],
    }
    arn, described, steps = run(sagemaker, "cycle", definition)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "cycle" in described["FailureReason"]
    assert "A -> B -> A" in described["FailureReason"] or "B -> A -> B" in described["FailureReason"]
    assert steps == {} and jobs_of(sagemaker, arn) == [], "nothing runs from a definition that cannot finish"


def test_a_dependency_on_no_such_step_fails_naming_it(sagemaker):
    definition = {"Version": "2020-12-01", "Steps": [tiny("Lonely", DependsOn=["Missing"])]}
    _, described, steps = run(sagemaker, "missing-dependency", definition)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "'Lonely'" in described["FailureReason"] and "'Missing'" in described["FailureReason"]
    assert steps == {}


# step types the local cloud cannot run fail where they would run -----------------------------------


def test_an_unsupported_step_in_a_branch_fails_the_execution_when_it_would_run(sagemaker):
    clarify = {
        "Name": "CheckBias",
        "Type": "ClarifyCheck",
        "Arguments": {"ClarifyCheckConfig": {}, "CheckJobConfig": {}},
        "DependsOn": ["BeforeCheck"],
        "CheckType": "DATA_BIAS",
        "SkipCheck": False,
        "RegisterNewBaseline": False,
    }
    definition = _branching([tiny("BeforeCheck"), clarify], [], [])
    _, described, steps = run(sagemaker, "unsupported-in-branch", definition)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "ClarifyCheck steps are not supported by the local cloud" in described["FailureReason"]
    assert "'CheckBias'" in described["FailureReason"]
    assert steps["BeforeCheck"]["StepStatus"] == "Succeeded"
    assert steps["CheckBias"]["StepStatus"] == "Failed"
    assert "ClarifyCheck steps are not supported" in steps["CheckBias"]["FailureReason"]


@pytest.mark.parametrize("step_type", ["QualityCheck", "EMR", "Callback", "AutoML"])
def test_unsupported_step_types_fail_with_the_reason(sagemaker, step_type):
    definition = {"Version": "2020-12-01", "Steps": [{"Name": "Other", "Type": step_type, "Arguments": {}}]}
    _, described, steps = run(sagemaker, f"unsupported-{step_type.lower()}", definition)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert f"{step_type} steps are not supported by the local cloud" in described["FailureReason"]
    assert steps["Other"]["StepStatus"] == "Failed"


def test_a_notebook_job_step_fails_as_unsupported(sagemaker):
    """SDK v2's NotebookJobStep is a Training step that runs the notebook scheduler of its image."""
    step = train_step()
    step["Name"] = "RunNotebook"
    step["Arguments"]["AlgorithmSpecification"]["ContainerEntrypoint"] = ["amazon_sagemaker_scheduler"]
    step["Arguments"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = f"s3://{BUCKET}/notebooks/input"
    arn, described, steps = run(sagemaker, "unsupported-notebook", {"Version": "2020-12-01", "Steps": [step]})
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "NotebookJob steps are not supported by the local cloud" in described["FailureReason"]
    assert "'RunNotebook'" in described["FailureReason"]
    assert jobs_of(sagemaker, arn) == []


# step caching -----------------------------------------------------------------------------------


def _cached(expire_after: str) -> dict:
    cache = {"Enabled": True, "ExpireAfter": expire_after}
    return {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "InputData", "Type": "String", "DefaultValue": f"s3://{BUCKET}/data/rows.csv"},
            {"Name": "Mode", "Type": "String", "DefaultValue": "plain"},
            {"Name": "InstanceType", "Type": "String", "DefaultValue": "ml.m5.large"},
        ],
        "Steps": [
            _with_instance_type(
                preprocess_step(CacheConfig=cache, Description="split"), {"Get": "Parameters.InstanceType"}
            ),
            train_step(CacheConfig=cache),
        ],
    }


def _with_instance_type(step: dict, instance_type) -> dict:
    step["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceType"] = instance_type
    step["Arguments"]["Environment"] = {"MODE": {"Get": "Parameters.Mode"}}
    return step


@pytest.fixture(scope="module")
def cached_runs(sagemaker):
    first = run(sagemaker, "cached", _cached("PT1H"))
    second = run(sagemaker, "cached")
    return first, second


def test_a_second_identical_run_reuses_the_first_and_starts_no_job(sagemaker, cached_runs):
    (first_arn, first, first_steps), (second_arn, second, second_steps) = cached_runs
    assert first["PipelineExecutionStatus"] == second["PipelineExecutionStatus"] == "Succeeded", second.get(
        "FailureReason"
    )
    assert "CacheHitResult" not in first_steps["Preprocess"]
    for name in ("Preprocess", "Train"):
        assert second_steps[name]["CacheHitResult"] == {"SourcePipelineExecutionArn": first_arn}
        assert second_steps[name]["Metadata"] == first_steps[name]["Metadata"], "the step points at the earlier job"
    assert jobs_of(sagemaker, second_arn) == []
    assert len(jobs_of(sagemaker, first_arn)) == 2


def test_a_change_outside_the_cache_key_still_hits(sagemaker, cached_runs):
    (first_arn, _, _), _ = cached_runs
    arn, described, steps = run(sagemaker, "cached", InstanceType="ml.m5.xlarge")
    assert described["PipelineExecutionStatus"] == "Succeeded"
    assert steps["Preprocess"]["CacheHitResult"] == {"SourcePipelineExecutionArn": first_arn}
    assert jobs_of(sagemaker, arn) == []


def test_a_changed_argument_misses_the_cache(sagemaker, cached_runs):
    arn, described, steps = run(sagemaker, "cached", Mode="shuffled")
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    assert "CacheHitResult" not in steps["Preprocess"]
    job = sagemaker.describe_processing_job(ProcessingJobName=_job_name(steps["Preprocess"]["Metadata"]))
    assert job["Environment"] == {"MODE": "shuffled"}
    assert "CacheHitResult" not in steps["Train"], "its input (this run's output) changed too"
    assert len(jobs_of(sagemaker, arn)) == 2


def test_an_expired_cache_entry_misses(sagemaker):
    first_arn, first, _ = run(sagemaker, "cached-briefly", _cached("PT1S"))
    assert first["PipelineExecutionStatus"] == "Succeeded", first.get("FailureReason")
    time.sleep(1.2)
    arn, described, steps = run(sagemaker, "cached-briefly")
    assert described["PipelineExecutionStatus"] == "Succeeded"
    assert "CacheHitResult" not in steps["Preprocess"]
    assert len(jobs_of(sagemaker, arn)) == 2


def test_a_bad_expire_after_fails_naming_the_field(sagemaker):
    _, described, steps = run(sagemaker, "cached-badly", _cached("one hour"))
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "CacheConfig.ExpireAfter" in described["FailureReason"] and "'Preprocess'" in described["FailureReason"]
    assert steps == {}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT1H", 3600),
        ("P30D", 30 * 86400),
        ("30d", 30 * 86400),
        ("T16m", 960),
        ("30dT5h", 30 * 86400 + 5 * 3600),
        ("PT1S", 1),
    ],
)
def test_expire_after_reads_iso_8601_durations_as_sagemakers_docs_write_them(text, seconds):
    assert caching.expire_after_seconds("Step", text) == seconds


# retry policies ---------------------------------------------------------------------------------

ALL_JOB_TYPES = ["SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR", "SageMaker.RESOURCE_LIMIT"]


def _retried(script_step: dict, policies: list) -> dict:
    script_step["RetryPolicies"] = policies
    return {"Version": "2020-12-01", "Steps": [script_step]}


def test_a_scripts_own_failure_is_not_retried(sagemaker):
    policies = [
        {"ExceptionType": ALL_JOB_TYPES, "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 3},
        {
            "ExceptionType": ["Step.SERVICE_FAULT", "Step.THROTTLING"],
            "IntervalSeconds": 1,
            "BackoffRate": 2.0,
            "MaxAttempts": 3,
        },
    ]
    arn, described, steps = run(sagemaker, "retry-script", _retried(processing("Flaky", "failing.py"), policies))
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "the script gives up" in steps["Flaky"]["FailureReason"]
    assert steps["Flaky"]["AttemptCount"] == 1
    assert len(jobs_of(sagemaker, arn)) == 1


@pytest.fixture()
def sandbox_fails_once(monkeypatch):
    """The host cannot start the first job's sandbox (a fault of the platform, not of the script)."""
    real = sandbox.run
    calls = []

    def run_once_broken(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("could not start the job's sandbox")
        return real(*args, **kwargs)

    monkeypatch.setattr(sandbox, "run", run_once_broken)
    return calls


def test_an_internal_job_error_is_retried_by_a_job_retry_policy(sagemaker, sandbox_fails_once):
    policies = [
        {"ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 2}
    ]
    arn, described, steps = run(sagemaker, "retry-internal", _retried(tiny("Work"), policies))
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    assert steps["Work"]["AttemptCount"] == 2
    jobs = [sagemaker.describe_processing_job(ProcessingJobName=name) for name in jobs_of(sagemaker, arn)]
    assert sorted(j["ProcessingJobStatus"] for j in jobs) == ["Completed", "Failed"], "each attempt is a new job"
    failed = next(j for j in jobs if j["ProcessingJobStatus"] == "Failed")
    assert failed["FailureReason"].startswith("InternalServerError")
    assert _job_name(steps["Work"]["Metadata"]) != failed["ProcessingJobName"], "the step shows the job that succeeded"


def test_an_internal_job_error_without_a_policy_is_not_retried(sagemaker, sandbox_fails_once):
    arn, described, steps = run(sagemaker, "retry-none", {"Version": "2020-12-01", "Steps": [tiny("Work")]})
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "InternalServerError" in steps["Work"]["FailureReason"]
    assert steps["Work"]["AttemptCount"] == 1


def test_a_bad_retry_policy_fails_naming_the_field(sagemaker):
    policies = [{"ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR"], "IntervalSeconds": 1, "MaxAttempts": 0}]
    _, described, steps = run(sagemaker, "retry-bad", _retried(tiny("Work"), policies))
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "'Work'" in described["FailureReason"] and "RetryPolicies[0].MaxAttempts" in described["FailureReason"]
    assert steps == {}


@pytest.fixture()
def sandbox_always_fails(monkeypatch):
    """The host cannot start any job's sandbox."""

    def broken(*args, **kwargs):
        raise OSError("could not start the job's sandbox")

    monkeypatch.setattr(sandbox, "run", broken)


def test_retries_stop_after_max_attempts(sagemaker, sandbox_always_fails):
    policies = [
        {"ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR"], "IntervalSeconds": 1, "BackoffRate": 1.0, "MaxAttempts": 2}
    ]
    arn, described, steps = run(sagemaker, "retry-persistent", _retried(tiny("Work"), policies))
    assert described["PipelineExecutionStatus"] == "Failed"
    assert steps["Work"]["AttemptCount"] == 3, "the first attempt and MaxAttempts retries"
    assert len(jobs_of(sagemaker, arn)) == 3


def test_a_stop_while_waiting_to_retry_stops_the_execution(sagemaker, sandbox_always_fails):
    # 1200 AWS seconds: at the default local time scale, 40 s of waiting the stop must cut short
    policies = [{"ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR"], "IntervalSeconds": 1200, "MaxAttempts": 1}]
    definition = _retried(tiny("Work"), policies)
    sagemaker.create_pipeline(PipelineName="retry-stopped", PipelineDefinition=json.dumps(definition), RoleArn=ROLE)
    arn = sagemaker.start_pipeline_execution(PipelineName="retry-stopped")["PipelineExecutionArn"]
    deadline = time.monotonic() + 30
    while (
        not jobs_of(sagemaker, arn)
        or sagemaker.describe_processing_job(ProcessingJobName=jobs_of(sagemaker, arn)[0])["ProcessingJobStatus"]
        == "InProgress"
    ):
        assert time.monotonic() < deadline, "the first attempt never ended"
        time.sleep(0.1)
    sagemaker.stop_pipeline_execution(PipelineExecutionArn=arn)
    described = wait(sagemaker, arn, timeout=10)
    assert described["PipelineExecutionStatus"] == "Stopped"
    assert list_steps(sagemaker, arn)["Work"]["StepStatus"] == "Stopped"
    assert len(jobs_of(sagemaker, arn)) == 1, "no retry started after the stop"
