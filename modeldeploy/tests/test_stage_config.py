"""Stage file validation: every mistake names the key and the file, and says what would be right."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO

from stage_config import ConfigError, load_stage_config
from template_parameters import load_parameters

TEMPLATE_PARAMETERS = load_parameters(REPO / "endpoint-config-template.yml")


def write_config(directory: Path, parameters: dict, name: str = "prod-config.json", **top_level) -> Path:
    path = directory / name
    path.write_text(json.dumps({"Parameters": parameters, **top_level}))
    return path


def valid_prod_parameters() -> dict:
    return json.loads((REPO / "prod-config.json").read_text())["Parameters"]


def problems_for(path: Path) -> str:
    with pytest.raises(ConfigError) as raised:
        load_stage_config(path, TEMPLATE_PARAMETERS)
    return str(raised.value)


@pytest.mark.parametrize("name", ["staging-config.json", "prod-config.json"])
def test_shipped_stage_files_are_valid(name):
    config = load_stage_config(REPO / name, TEMPLATE_PARAMETERS)
    assert config.parameters["EndpointInstanceType"].startswith("ml.")


def test_unknown_key_is_named_with_the_file_and_a_suggestion(tmp_path):
    parameters = valid_prod_parameters()
    parameters["EndpointInstanceTyp"] = parameters.pop("EndpointInstanceType")
    message = problems_for(write_config(tmp_path, parameters))
    assert "prod-config.json: Parameters.EndpointInstanceTyp: unknown parameter" in message
    assert "did you mean EndpointInstanceType?" in message


def test_unknown_top_level_key_is_named(tmp_path):
    message = problems_for(write_config(tmp_path, valid_prod_parameters(), StackPolicy={}))
    assert "prod-config.json: unknown top-level key 'StackPolicy'" in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("EndpointInstanceCount", "2", 'Parameters.EndpointInstanceCount must be an integer, got "2" (string)'),
        ("EndpointInstanceCount", 1.5, "Parameters.EndpointInstanceCount must be an integer, got 1.5 (number)"),
        ("EnableDataCapture", "true", "Parameters.EnableDataCapture must be true or false"),
        ("EndpointInstanceType", 5, "Parameters.EndpointInstanceType must be a string, got 5 (number)"),
        ("AutoScalingMinCapacity", True, "Parameters.AutoScalingMinCapacity must be an integer, got true (boolean)"),
    ],
)
def test_wrong_type_is_named_with_the_file(tmp_path, key, value, expected):
    parameters = valid_prod_parameters()
    parameters[key] = value
    message = problems_for(write_config(tmp_path, parameters))
    assert f"prod-config.json: {expected}" in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("TrafficRoutingType", "ROLLING", "must be one of ALL_AT_ONCE, CANARY, LINEAR"),
        ("SamplingPercentage", 150, "must be at most 100"),
        ("EndpointInstanceCount", 0, "must be at least 1"),
        ("EndpointInstanceType", "m5.large", "does not match the pattern"),
        ("AlarmPeriodSeconds", 45, "must be one of 10, 30, 60"),
    ],
)
def test_out_of_range_values_are_named(tmp_path, key, value, expected):
    parameters = valid_prod_parameters()
    parameters[key] = value
    message = problems_for(write_config(tmp_path, parameters))
    assert f"prod-config.json: Parameters.{key}" in message
    assert expected in message


def test_missing_required_key_is_named(tmp_path):
    parameters = valid_prod_parameters()
    del parameters["TrafficRoutingType"]
    message = problems_for(write_config(tmp_path, parameters, name="staging-config.json"))
    assert "staging-config.json: missing required key Parameters.TrafficRoutingType" in message


def test_missing_parameters_object_is_named(tmp_path):
    path = tmp_path / "staging-config.json"
    path.write_text(json.dumps({"Tags": {}}))
    assert 'staging-config.json: missing required key "Parameters"' in problems_for(path)


def test_build_owned_parameter_may_not_be_overridden(tmp_path):
    parameters = {**valid_prod_parameters(), "EndpointName": "my-endpoint"}
    message = problems_for(write_config(tmp_path, parameters))
    assert "prod-config.json: Parameters.EndpointName is set by build.py" in message


def test_all_problems_are_reported_at_once(tmp_path):
    parameters = valid_prod_parameters()
    parameters["EndpointInstanceCount"] = "two"
    parameters["Colour"] = "blue"
    del parameters["EndpointInstanceType"]
    with pytest.raises(ConfigError) as raised:
        load_stage_config(write_config(tmp_path, parameters), TEMPLATE_PARAMETERS)
    assert len(raised.value.problems) == 3


def test_tags_must_be_strings_and_not_reserved(tmp_path):
    message = problems_for(
        write_config(tmp_path, valid_prod_parameters(), Tags={"team": 7, "aws:owner": "x", "sagemaker:project-id": "y"})
    )
    assert "prod-config.json: Tags.team must be a string" in message
    assert "Tags.aws:owner: keys starting with 'aws:' are reserved" in message
    assert "Tags.sagemaker:project-id is set by build.py" in message


def test_invalid_json_reports_the_position(tmp_path):
    path = tmp_path / "prod-config.json"
    path.write_text('{"Parameters": {"EndpointInstanceCount": 2,}}')
    assert "prod-config.json: not valid JSON at line 1" in problems_for(path)


def test_missing_file_is_reported(tmp_path):
    assert "nowhere.json: file not found" in problems_for(tmp_path / "nowhere.json")


def test_autoscaling_bounds_must_contain_the_instance_count(tmp_path):
    parameters = {**valid_prod_parameters(), "AutoScalingMinCapacity": 3, "AutoScalingMaxCapacity": 6}
    message = problems_for(write_config(tmp_path, parameters))
    assert "Parameters.EndpointInstanceCount (2) must lie between Parameters.AutoScalingMinCapacity (3)" in message


def test_autoscaling_min_above_max_is_refused(tmp_path):
    parameters = {**valid_prod_parameters(), "AutoScalingMinCapacity": 5, "AutoScalingMaxCapacity": 4}
    assert "AutoScalingMinCapacity (5) is greater than Parameters.AutoScalingMaxCapacity (4)" in problems_for(
        write_config(tmp_path, parameters)
    )


def test_deployment_timeout_must_cover_the_traffic_shifting_waits(tmp_path):
    parameters = {
        **valid_prod_parameters(),
        "TrafficRoutingType": "LINEAR",
        "LinearStepSizePercent": 20,
        "TrafficWaitIntervalSeconds": 600,
        "TerminationWaitSeconds": 600,
        "MaximumExecutionTimeoutSeconds": 3000,
    }
    # 5 steps of 20 %, each baked for 600 s, plus 600 s before the old fleet goes: 3600 s.
    message = problems_for(write_config(tmp_path, parameters))
    assert "MaximumExecutionTimeoutSeconds (3000) is shorter than the 3600 s" in message

    parameters["MaximumExecutionTimeoutSeconds"] = 3600
    assert load_stage_config(write_config(tmp_path, parameters), TEMPLATE_PARAMETERS)


def test_values_become_cloudformation_strings(tmp_path):
    config = load_stage_config(REPO / "staging-config.json", TEMPLATE_PARAMETERS)
    assert config.parameters["EnableDataCapture"] == "true"
    assert config.parameters["EndpointInstanceCount"] == "1"
