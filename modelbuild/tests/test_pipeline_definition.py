"""The pipeline definition: steps, wiring, parameters, uploaded code (built once against moto)."""

from __future__ import annotations

import io
import json
import tarfile

import boto3
import pytest
from conftest import BUCKET, GROUP, PREFIX, REGION, ROLE, SCRIPTS, SHIPPED_CSV

from pipelines import instance_types, parameters
from pipelines.images import SKLEARN_FRAMEWORK_VERSION

IMAGE_TAG = f"sagemaker-scikit-learn:{SKLEARN_FRAMEWORK_VERSION}-cpu-py3"


def steps_by_name(definition: dict) -> dict:
    """Every step, including those nested in condition branches, by name."""
    found = {}

    def visit(steps):
        for step in steps:
            found[step["Name"]] = step
            visit(step.get("Arguments", {}).get("IfSteps", []))
            visit(step.get("Arguments", {}).get("ElseSteps", []))

    visit(definition["Steps"])
    return found


def s3_object(uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"].read()


def get(name: str) -> dict:
    return {"Get": name}


def test_top_level_steps_and_branches(definition):
    top = [(s["Name"], s["Type"]) for s in definition["Steps"]]
    assert top == [
        ("Preprocess", "Processing"),
        ("Train", "Training"),
        ("Evaluate", "Processing"),
        ("CheckQuality", "Condition"),
    ]
    condition = definition["Steps"][3]["Arguments"]
    assert [(s["Name"], s["Type"]) for s in condition["IfSteps"]] == [("Register", "RegisterModel")]
    assert [(s["Name"], s["Type"]) for s in condition["ElseSteps"]] == [("QualityBelowThreshold", "Fail")]


def test_parameters_declare_the_defaults_the_code_defines(definition):
    declared = {p["Name"]: p for p in definition["Parameters"]}
    assert {n: (p["Type"], p["DefaultValue"]) for n, p in declared.items()} == {
        "ProcessingInstanceType": ("String", instance_types.DEFAULT_PROCESSING_INSTANCE_TYPE),
        "TrainingInstanceType": ("String", instance_types.DEFAULT_TRAINING_INSTANCE_TYPE),
        "InputDataUrl": ("String", f"s3://{BUCKET}/{PREFIX}/data/{SHIPPED_CSV.name}"),
        "TargetColumn": ("String", parameters.DEFAULT_TARGET_COLUMN),
        "ProblemType": ("String", parameters.DEFAULT_PROBLEM_TYPE),
        "ModelApprovalStatus": ("String", parameters.DEFAULT_APPROVAL_STATUS),
        "AccuracyThreshold": ("Float", parameters.DEFAULT_ACCURACY_THRESHOLD),
        "R2Threshold": ("Float", parameters.DEFAULT_R2_THRESHOLD),
        "RegularizationC": ("Float", parameters.DEFAULT_REGULARIZATION_C),
        "MaxIterations": ("Integer", parameters.DEFAULT_MAX_ITERATIONS),
    }
    assert declared["ModelApprovalStatus"]["EnumValues"] == list(parameters.APPROVAL_STATUSES)
    assert declared["ProblemType"]["EnumValues"] == list(parameters.PROBLEM_TYPES)


def test_problem_types_are_those_the_preprocess_script_accepts():
    from conftest import load_script

    assert parameters.PROBLEM_TYPES == load_script("preprocess.py").PROBLEM_TYPES


def test_shipped_dataset_is_uploaded_as_the_default_input(definition):
    default = next(p["DefaultValue"] for p in definition["Parameters"] if p["Name"] == "InputDataUrl")
    assert s3_object(default) == SHIPPED_CSV.read_bytes()


def test_preprocess_reads_input_parameter_and_writes_three_splits(definition):
    args = steps_by_name(definition)["Preprocess"]["Arguments"]
    assert args["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/preprocess.py",
    ]
    arguments = args["AppSpecification"]["ContainerArguments"]
    for flag, parameter in [
        ("--input-data-url", "InputDataUrl"),
        ("--target-column", "TargetColumn"),
        ("--problem-type", "ProblemType"),
    ]:
        assert arguments[arguments.index(flag) + 1] == get(f"Parameters.{parameter}")
    inputs = {i["InputName"]: i["S3Input"] for i in args["ProcessingInputs"]}
    assert inputs["input"]["S3Uri"] == get("Parameters.InputDataUrl")
    assert s3_object(inputs["code"]["S3Uri"]) == (SCRIPTS / "preprocess.py").read_bytes()
    outputs = {o["OutputName"]: o["S3Output"]["LocalPath"] for o in args["ProcessingOutputConfig"]["Outputs"]}
    assert outputs == {name: f"/opt/ml/processing/{name}" for name in ("train", "validation", "test")}
    assert args["ProcessingResources"]["ClusterConfig"]["InstanceType"] == get("Parameters.ProcessingInstanceType")
    assert IMAGE_TAG in args["AppSpecification"]["ImageUri"]


def test_train_uses_driver_hyperparameters_and_preprocess_outputs(definition):
    args = steps_by_name(definition)["Train"]["Arguments"]
    spec = args["AlgorithmSpecification"]
    assert spec["ContainerEntrypoint"] == ["/bin/bash"]
    assert "/opt/ml/input/data/sm_drivers/sm_train.sh" in spec["ContainerArguments"][-1]
    assert IMAGE_TAG in spec["TrainingImage"]
    hps = args["HyperParameters"]
    assert hps["C"]["Std:Join"]["Values"] == [get("Parameters.RegularizationC")]
    assert hps["max_iter"]["Std:Join"]["Values"] == [get("Parameters.MaxIterations")]
    assert hps["target_column"] == get("Parameters.TargetColumn")
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in args["InputDataConfig"]}
    assert channels["train"] == get("Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri")
    assert channels["validation"] == get("Steps.Preprocess.ProcessingOutputConfig.Outputs['validation'].S3Output.S3Uri")
    assert args["ResourceConfig"]["InstanceType"] == get("Parameters.TrainingInstanceType")


def test_training_code_upload_holds_train_and_inference_scripts(definition):
    args = steps_by_name(definition)["Train"]["Arguments"]
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in args["InputDataConfig"]}
    bucket, prefix = channels["code"].removeprefix("s3://").split("/", 1)
    s3 = boto3.client("s3", region_name=REGION)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    payload = {}
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if key.endswith(".tar.gz"):
            with tarfile.open(fileobj=io.BytesIO(body)) as tar:
                for member in tar.getmembers():
                    if member.isfile():
                        payload[member.name.lstrip("./")] = tar.extractfile(member).read()
        else:
            payload[key[len(prefix) :].lstrip("/")] = body
    for name in ("train.py", "features.py", "inference.py"):
        assert payload[name] == (SCRIPTS / "training" / name).read_bytes()


def test_evaluate_reads_trained_model_and_test_split(definition):
    step = steps_by_name(definition)["Evaluate"]
    inputs = {i["InputName"]: i["S3Input"] for i in step["Arguments"]["ProcessingInputs"]}
    assert inputs["model"]["S3Uri"] == get("Steps.Train.ModelArtifacts.S3ModelArtifacts")
    assert inputs["model"]["LocalPath"] == "/opt/ml/processing/model"
    assert inputs["test"]["S3Uri"] == get("Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri")
    assert s3_object(inputs["code"]["S3Uri"]) == (SCRIPTS / "evaluate.py").read_bytes()
    assert step["PropertyFiles"] == [
        {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": "evaluation.json"}
    ]
    outputs = step["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    assert [o["OutputName"] for o in outputs] == ["evaluation"]
    arguments = step["Arguments"]["AppSpecification"]["ContainerArguments"]
    for flag, parameter in [("--accuracy-threshold", "AccuracyThreshold"), ("--r2-threshold", "R2Threshold")]:
        assert arguments[arguments.index(flag) + 1]["Std:Join"]["Values"] == [get(f"Parameters.{parameter}")]


def resolve(document: dict, dotted_path: str):
    value = document
    for part in dotted_path.split("."):
        value = value[part]
    return value


def gate(field: str) -> dict:
    return {
        "Std:JsonGet": {
            "PropertyFile": get("Steps.Evaluate.PropertyFiles.EvaluationReport"),
            "Path": f"quality_gate.{field}",
        }
    }


@pytest.mark.parametrize("run", ["step_run", "multiclass_run", "regression_run"])
def test_condition_compares_the_gate_evaluate_writes_for_every_problem_type(request, definition, run):
    condition = steps_by_name(definition)["CheckQuality"]["Arguments"]["Conditions"]
    assert condition == [{"Type": "GreaterThanOrEqualTo", "LeftValue": gate("value"), "RightValue": gate("threshold")}]
    # The paths must resolve to numbers in the evaluation.json that evaluate.py really writes.
    report = json.loads(request.getfixturevalue(run)["evaluation"].read_text())
    for side in ("LeftValue", "RightValue"):
        assert isinstance(resolve(report, condition[0][side]["Std:JsonGet"]["Path"]), float)


def test_fail_message_names_metric_value_and_threshold(definition):
    message = steps_by_name(definition)["QualityBelowThreshold"]["Arguments"]["ErrorMessage"]["Std:Join"]
    assert message["On"] == " "
    assert message["Values"] == [
        "Model",
        gate("metric"),
        gate("value"),
        "is below the",
        gate("threshold_parameter"),
        "of",
        gate("threshold"),
        "- the model was not registered.",
    ]


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("step_run", r"Model accuracy 0\.\d+ is below the AccuracyThreshold of 0\.5 - the model was not registered\."),
        ("regression_run", r"Model r2 0\.\d+ is below the R2Threshold of 0\.1 - the model was not registered\."),
    ],
)
def test_fail_message_reads_as_a_sentence_for_the_report_evaluate_writes(request, definition, run, expected):
    import re

    report = json.loads(request.getfixturevalue(run)["evaluation"].read_text())
    message = steps_by_name(definition)["QualityBelowThreshold"]["Arguments"]["ErrorMessage"]["Std:Join"]
    text = " ".join(
        str(resolve(report, v["Std:JsonGet"]["Path"])) if isinstance(v, dict) else v for v in message["Values"]
    )
    assert re.fullmatch(expected, text), text


def test_register_packages_trained_artifacts_as_deployable_sklearn_model(definition):
    args = steps_by_name(definition)["Register"]["Arguments"]
    assert args["ModelPackageGroupName"] == GROUP
    assert args["ModelApprovalStatus"] == get("Parameters.ModelApprovalStatus")
    spec = args["InferenceSpecification"]
    assert len(spec["Containers"]) == 1
    container = spec["Containers"][0]
    assert container["ModelDataUrl"] == get("Steps.Train.ModelArtifacts.S3ModelArtifacts")
    assert container["Image"] == f"683313688378.dkr.ecr.{REGION}.amazonaws.com/{IMAGE_TAG}"
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    assert spec["SupportedContentTypes"] == ["text/csv", "application/json"]
    assert spec["SupportedResponseMIMETypes"] == ["application/json"]
    assert spec["SupportedRealtimeInferenceInstanceTypes"] == instance_types.INFERENCE_INSTANCE_TYPES
    assert spec["SupportedTransformInstanceTypes"] == instance_types.TRANSFORM_INSTANCE_TYPES


def test_register_attaches_metrics_and_test_metadata(definition):
    args = steps_by_name(definition)["Register"]["Arguments"]
    statistics = args["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    assert statistics["S3Uri"]["Std:Join"]["Values"] == [
        get("Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"),
        "evaluation.json",
    ]
    metadata = args["CustomerMetadataProperties"]
    assert metadata["TestDataS3Uri"]["Std:Join"]["Values"] == [
        get("Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"),
        "test.csv",
    ]
    assert metadata["TargetColumn"] == get("Parameters.TargetColumn")
    assert metadata["AccuracyThreshold"]["Std:Join"]["Values"] == [get("Parameters.AccuracyThreshold")]
    assert metadata["R2Threshold"]["Std:Join"]["Values"] == [get("Parameters.R2Threshold")]


def test_jobs_run_as_the_given_role(definition):
    steps = steps_by_name(definition)
    assert {steps[name]["Arguments"]["RoleArn"] for name in ("Preprocess", "Train", "Evaluate")} == {ROLE}


def test_missing_argument_is_named(aws):
    from pipelines.pipeline import get_pipeline

    with pytest.raises(ValueError, match="role is required"):
        get_pipeline(REGION, "", BUCKET, GROUP, "p", PREFIX)


def test_explicit_input_url_must_be_s3():
    from pipelines.parameters import build_parameters

    assert build_parameters("s3://b/k.csv").input_data_url.default_value == "s3://b/k.csv"
    with pytest.raises(ValueError, match="s3:// URI"):
        build_parameters("data/breast_cancer.csv")


def substitute(value, values: dict):
    """Resolve Get / Std:Join placeholders the way the pipeline service does at run time."""
    if isinstance(value, list):
        return [substitute(v, values) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Get"}:
            return values[value["Get"]]
        if set(value) == {"Std:Join"}:
            join = value["Std:Join"]
            return join["On"].join(str(substitute(v, values)) for v in join["Values"])
        return {k: substitute(v, values) for k, v in value.items()}
    return value


def test_register_arguments_are_a_valid_create_model_package_request(definition):
    run_values = {
        "Parameters.ModelApprovalStatus": "PendingManualApproval",
        "Parameters.TargetColumn": "target",
        "Parameters.AccuracyThreshold": 0.9,
        "Parameters.R2Threshold": 0.3,
        "Steps.Train.ModelArtifacts.S3ModelArtifacts": f"s3://{BUCKET}/demo/models/job/output/model.tar.gz",
        "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri": f"s3://{BUCKET}/demo/e1/evaluation",
        "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri": f"s3://{BUCKET}/demo/e1/preprocess/test",
    }
    request = substitute(steps_by_name(definition)["Register"]["Arguments"], run_values)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    arn = sagemaker.create_model_package(**request)["ModelPackageArn"]
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    assert package["ModelPackageGroupName"] == GROUP
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["CustomerMetadataProperties"] == {
        "TestDataS3Uri": f"s3://{BUCKET}/demo/e1/preprocess/test/test.csv",
        "TargetColumn": "target",
        "AccuracyThreshold": "0.9",
        "R2Threshold": "0.3",
    }
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == f"s3://{BUCKET}/demo/models/job/output/model.tar.gz"
    statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["S3Uri"] == f"s3://{BUCKET}/demo/e1/evaluation/evaluation.json"


def test_registered_package_environment_finds_the_handlers_inside_the_archive(definition, step_run, tmp_path):
    import importlib.util
    import tarfile

    import pandas as pd

    """What the serving container does with the registered package: unpack ModelDataUrl into
    /opt/ml/model, then import SAGEMAKER_SUBMIT_DIRECTORY/SAGEMAKER_PROGRAM."""
    register = definition["Steps"][3]["Arguments"]["IfSteps"][0]["Arguments"]
    environment = register["InferenceSpecification"]["Containers"][0]["Environment"]
    model_root = tmp_path / "opt_ml_model"
    with tarfile.open(step_run["archive"]) as tar:
        tar.extractall(model_root, filter="data")
    submit_dir = environment["SAGEMAKER_SUBMIT_DIRECTORY"]
    assert submit_dir.startswith("/opt/ml/model/")
    program = model_root / submit_dir.removeprefix("/opt/ml/model/") / environment["SAGEMAKER_PROGRAM"]
    spec = importlib.util.spec_from_file_location("container_program", program)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.model_fn(str(model_root))
    row = pd.read_csv(step_run["splits"] / "test" / "test.csv").drop(columns=["target"]).head(1)
    body = row.to_csv(header=False, index=False)
    response = json.loads(
        module.output_fn(module.predict_fn(module.input_fn(body, "text/csv"), model), "application/json")
    )
    assert response["predictions"][0]["label"] in (0, 1)
