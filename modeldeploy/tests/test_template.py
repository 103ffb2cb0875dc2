"""The endpoint template: lint-clean, and each stage file produces the endpoint it promises."""

from __future__ import annotations

import json

import pytest
from cfn_render import render
from cfnlint.api import lint
from conftest import REPO, ROLE_ARN

import build
from stage_config import load_stage_config
from template_parameters import load_parameters, load_template

TEMPLATE_PATH = REPO / "endpoint-config-template.yml"
PACKAGE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model-p-1/3"
SETTINGS = {
    "SAGEMAKER_PROJECT_NAME": "churn-model",
    "SAGEMAKER_PROJECT_ID": "p-1",
    "ARTIFACT_BUCKET": "sagemaker-project-p-1",
    "MODEL_EXECUTION_ROLE_ARN": ROLE_ARN,
    "MODEL_PACKAGE_GROUP_NAME": "churn-model-p-1",
}


def test_template_passes_cfn_lint_with_no_errors_or_warnings():
    matches = lint(TEMPLATE_PATH.read_text(), regions=["us-east-1"])
    assert [str(match) for match in matches] == []


def stage_document(stage: str, overrides: dict | None = None, tmp_path=None) -> dict:
    template_parameters = load_parameters(TEMPLATE_PATH)
    path = REPO / f"{stage}-config.json"
    if overrides is not None:
        document = json.loads(path.read_text())
        document["Parameters"].update(overrides)
        path = tmp_path / f"{stage}-config.json"
        path.write_text(json.dumps(document))
    config = load_stage_config(path, template_parameters)
    return build.template_configuration(SETTINGS, stage, PACKAGE_ARN, config)


def rendered(stage: str, overrides: dict | None = None, tmp_path=None) -> dict:
    return render(load_template(TEMPLATE_PATH), stage_document(stage, overrides, tmp_path)["Parameters"])["Resources"]


def test_model_serves_the_package_with_the_execution_role():
    model = rendered("staging")["Model"]["Properties"]
    assert model["Containers"] == [{"ModelPackageName": PACKAGE_ARN}]
    assert model["ExecutionRoleArn"] == ROLE_ARN


def test_staging_is_one_instance_all_at_once_with_data_capture_and_no_autoscaling():
    resources = rendered("staging")
    variant = resources["EndpointConfig"]["Properties"]["ProductionVariants"][0]
    assert variant["InitialInstanceCount"] == "1"
    capture = resources["EndpointConfig"]["Properties"]["DataCaptureConfig"]
    assert capture["EnableCapture"] == "true"
    assert capture["DestinationS3Uri"] == "s3://sagemaker-project-p-1/datacapture-staging"
    routing = resources["Endpoint"]["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"][
        "TrafficRoutingConfiguration"
    ]
    assert routing["Type"] == "ALL_AT_ONCE"
    assert "CanarySize" not in routing and "LinearStepSize" not in routing
    assert "AutoScalingTarget" not in resources
    assert "InvocationsPerInstanceScalingPolicy" not in resources
    assert resources["Endpoint"]["Properties"]["EndpointName"] == "churn-model-staging"


def test_prod_shifts_traffic_gradually_rolls_back_on_its_own_alarms_and_autoscales():
    resources = rendered("prod")
    variant = resources["EndpointConfig"]["Properties"]["ProductionVariants"][0]
    assert int(variant["InitialInstanceCount"]) >= 2
    deployment = resources["Endpoint"]["Properties"]["DeploymentConfig"]
    routing = deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] in ("CANARY", "LINEAR")
    step = routing.get("CanarySize") or routing.get("LinearStepSize")
    assert step["Type"] == "CAPACITY_PERCENT" and 0 < int(step["Value"]) <= 50

    alarm_refs = {alarm["AlarmName"]["Ref"] for alarm in deployment["AutoRollbackConfiguration"]["Alarms"]}
    assert alarm_refs == {"Invocation5XXErrorsAlarm", "ModelLatencyAlarm"}
    assert resources["Invocation5XXErrorsAlarm"]["Properties"]["MetricName"] == "Invocation5XXErrors"
    assert resources["ModelLatencyAlarm"]["Properties"]["MetricName"] == "ModelLatency"
    for alarm in alarm_refs:
        dimensions = resources[alarm]["Properties"]["Dimensions"]
        assert {"Name": "EndpointName", "Value": "churn-model-prod"} in dimensions

    target = resources["AutoScalingTarget"]["Properties"]
    assert int(target["MinCapacity"]) < int(target["MaxCapacity"])
    policy = resources["InvocationsPerInstanceScalingPolicy"]["Properties"]
    metric = policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert metric["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"


def test_linear_routing_sets_the_step_size_only(tmp_path):
    routing = rendered("prod", {"TrafficRoutingType": "LINEAR", "LinearStepSizePercent": 50}, tmp_path)["Endpoint"][
        "Properties"
    ]["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["LinearStepSize"] == {"Type": "CAPACITY_PERCENT", "Value": "50"}
    assert "CanarySize" not in routing


def test_switching_off_alarms_removes_them_and_the_rollback_configuration(tmp_path):
    resources = rendered("prod", {"EnableRollbackAlarms": False}, tmp_path)
    assert "AutoRollbackConfiguration" not in resources["Endpoint"]["Properties"]["DeploymentConfig"]
    assert not {"Invocation5XXErrorsAlarm", "ModelLatencyAlarm"} & set(resources)


@pytest.mark.parametrize("capacity", [2, 3])
def test_equal_min_and_max_turn_autoscaling_off(tmp_path, capacity):
    overrides = {"AutoScalingMinCapacity": capacity, "AutoScalingMaxCapacity": capacity, "EndpointInstanceCount": 2}
    resources = rendered("prod", overrides, tmp_path)
    assert "AutoScalingTarget" not in resources


def test_template_outputs_the_endpoint_name():
    outputs = load_template(TEMPLATE_PATH)["Outputs"]
    assert outputs["EndpointName"]["Value"] == {"Fn::GetAtt": ["Endpoint", "EndpointName"]}
