"""The pipeline definition: steps, wiring, parameters, uploaded code (built once against moto)."""

from __future__ import annotations

import io
import json
import tarfile

import boto3
import pytest
from conftest import BUCKET, GROUP, PREFIX, REGION, ROLE, SCRIPTS, SHIPPED_CSV


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
        ("CheckAccuracy", "Condition"),
    ]
    condition = definition["Steps"][3]["Arguments"]
    assert [(s["Name"], s["Type"]) for s in condition["IfSteps"]] == [("Register", "RegisterModel")]
    assert [(s["Name"], s["Type"]) for s in condition["ElseSteps"]] == [("AccuracyBelowThreshold", "Fail")]


def test_parameter_defaults(definition):
    params = {p["Name"]: p for p in definition["Parameters"]}
    assert {n: (p["Type"], p["DefaultValue"]) for n, p in params.items()} == {
        "ProcessingInstanceType": ("String", "ml.m5.large"),
        "TrainingInstanceType": ("String", "ml.m5.large"),
        "InputDataUrl": ("String", f"s3://{BUCKET}/{PREFIX}/data/breast_cancer.csv"),
        "TargetColumn": ("String", "target"),
        "ModelApprovalStatus": ("String", "PendingManualApproval"),
        "AccuracyThreshold": ("Float", 0.9),
        "RegularizationC": ("Float", 1.0),
        "MaxIterations": ("Integer", 1000),
    }
    assert params["ModelApprovalStatus"]["EnumValues"] == ["PendingManualApproval", "Approved", "Rejected"]


def test_shipped_dataset_is_uploaded_as_the_default_input(definition):
    default = next(p["DefaultValue"] for p in definition["Parameters"] if p["Name"] == "InputDataUrl")
    assert s3_object(default) == SHIPPED_CSV.read_bytes()


def test_preprocess_reads_input_parameter_and_writes_three_splits(definition):
    args = steps_by_name(definition)["Preprocess"]["Arguments"]
    assert args["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/preprocess.py",
    ]
    assert get("Parameters.TargetColumn") in args["AppSpecification"]["ContainerArguments"]
    inputs = {i["InputName"]: i["S3Input"] for i in args["ProcessingInputs"]}
    assert inputs["input"]["S3Uri"] == get("Parameters.InputDataUrl")
    assert s3_object(inputs["code"]["S3Uri"]) == (SCRIPTS / "preprocess.py").read_bytes()
    outputs = {o["OutputName"]: o["S3Output"]["LocalPath"] for o in args["ProcessingOutputConfig"]["Outputs"]}
    assert outputs == {name: f"/opt/ml/processing/{name}" for name in ("train", "validation", "test")}
    assert args["ProcessingResources"]["ClusterConfig"]["InstanceType"] == get(
        "Parameters.ProcessingInstanceType"
    )
    assert "sagemaker-scikit-learn:1.2-1-cpu-py3" in args["AppSpecification"]["ImageUri"]


def test_train_uses_driver_hyperparameters_and_preprocess_outputs(definition):
    args = steps_by_name(definition)["Train"]["Arguments"]
    spec = args["AlgorithmSpecification"]
    assert spec["ContainerEntrypoint"] == ["/bin/bash"]
    assert "/opt/ml/input/data/sm_drivers/sm_train.sh" in spec["ContainerArguments"][-1]
    assert "sagemaker-scikit-learn:1.2-1-cpu-py3" in spec["TrainingImage"]
    hps = args["HyperParameters"]
    assert hps["C"]["Std:Join"]["Values"] == [get("Parameters.RegularizationC")]
    assert hps["max_iter"]["Std:Join"]["Values"] == [get("Parameters.MaxIterations")]
    assert hps["target_column"] == get("Parameters.TargetColumn")
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in args["InputDataConfig"]}
    assert channels["train"] == get("Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri")
    assert channels["validation"] == get(
        "Steps.Preprocess.ProcessingOutputConfig.Outputs['validation'].S3Output.S3Uri"
    )
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
    assert payload["train.py"] == (SCRIPTS / "training" / "train.py").read_bytes()
    assert payload["inference.py"] == (SCRIPTS / "training" / "inference.py").read_bytes()


def test_evaluate_reads_trained_model_and_test_split(definition):
    step = steps_by_name(definition)["Evaluate"]
    inputs = {i["InputName"]: i["S3Input"] for i in step["Arguments"]["ProcessingInputs"]}
    assert inputs["model"]["S3Uri"] == get("Steps.Train.ModelArtifacts.S3ModelArtifacts")
    assert inputs["model"]["LocalPath"] == "/opt/ml/processing/model"
    assert inputs["test"]["S3Uri"] == get(
        "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"
    )
    assert s3_object(inputs["code"]["S3Uri"]) == (SCRIPTS / "evaluate.py").read_bytes()
    assert step["PropertyFiles"] == [
        {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": "evaluation.json"}
    ]
    outputs = step["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    assert [o["OutputName"] for o in outputs] == ["evaluation"]


def resolve(document: dict, dotted_path: str):
    value = document
    for part in dotted_path.split("."):
        value = value[part]
    return value


def test_condition_compares_the_accuracy_evaluate_writes_with_the_threshold(definition, step_run):
    condition = steps_by_name(definition)["CheckAccuracy"]["Arguments"]["Conditions"]
    assert len(condition) == 1 and condition[0]["Type"] == "GreaterThanOrEqualTo"
    left = condition[0]["LeftValue"]["Std:JsonGet"]
    assert left["PropertyFile"] == get("Steps.Evaluate.PropertyFiles.EvaluationReport")
    assert condition[0]["RightValue"] == get("Parameters.AccuracyThreshold")
    # The path must resolve to a number in the evaluation.json that evaluate.py really writes.
    report = json.loads(step_run["evaluation"].read_text())
    accuracy = resolve(report, left["Path"])
    assert isinstance(accuracy, float) and 0.9 <= accuracy <= 1.0


def test_fail_message_states_measured_accuracy_and_threshold(definition):
    message = steps_by_name(definition)["AccuracyBelowThreshold"]["Arguments"]["ErrorMessage"]["Std:Join"]
    values = message["Values"]
    assert {
        "Std:JsonGet": {
            "PropertyFile": get("Steps.Evaluate.PropertyFiles.EvaluationReport"),
            "Path": "binary_classification_metrics.accuracy.value",
        }
    } in values
    assert get("Parameters.AccuracyThreshold") in values
    assert any("below" in v for v in values if isinstance(v, str))


def test_register_packages_trained_artifacts_as_deployable_sklearn_model(definition):
    args = steps_by_name(definition)["Register"]["Arguments"]
    assert args["ModelPackageGroupName"] == GROUP
    assert args["ModelApprovalStatus"] == get("Parameters.ModelApprovalStatus")
    spec = args["InferenceSpecification"]
    assert len(spec["Containers"]) == 1
    container = spec["Containers"][0]
    assert container["ModelDataUrl"] == get("Steps.Train.ModelArtifacts.S3ModelArtifacts")
    assert (
        container["Image"]
        == f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    )
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    assert spec["SupportedContentTypes"] == ["text/csv", "application/json"]
    assert spec["SupportedResponseMIMETypes"] == ["application/json"]


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
    }
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == f"s3://{BUCKET}/demo/models/job/output/model.tar.gz"
    statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["S3Uri"] == f"s3://{BUCKET}/demo/e1/evaluation/evaluation.json"
