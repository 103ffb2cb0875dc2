"""test/test.py: passes on an endpoint that serves the model correctly, fails on one that does not.

The endpoint stand-ins answer with a real scikit-learn model trained here (a classifier on
the breast-cancer data, a regressor on the diabetes data); SageMaker control-plane calls
and S3 go to the moto server. The package's quality report names the metric and the
threshold, as the ModelBuild pipeline's evaluation.json does.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from botocore.exceptions import ClientError
from conftest import REPO, ROLE_ARN, register_package
from endpoint_checks import (
    EndpointNotReady,
    ResponseFormatError,
    accuracy,
    csv_body,
    invoke_in_batches,
    parse_predictions,
    percentile,
    r2,
    wait_for_in_service,
)
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from staging_inputs import InputError, parse_test_csv, read_quality_gate

# test/test.py is a script; load it under its own name so it cannot shadow the standard library's "test".
_spec = importlib.util.spec_from_file_location("staging_test_main", REPO / "test" / "test.py")
staging_test = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = staging_test
_spec.loader.exec_module(staging_test)


@pytest.fixture(scope="module")
def trained():
    """A classifier trained on the breast-cancer data, and its held-out split as the pipeline writes it."""
    data = load_breast_cancer()
    names = [name.replace(" ", "_") for name in data.feature_names]
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.2, random_state=0, stratify=data.target
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x_train, y_train)
    return model, held_out_csv(names, x_test, [str(int(label)) for label in y_test])


@pytest.fixture(scope="module")
def trained_regressor():
    """A ridge regression on the diabetes data, and its held-out split."""
    data = load_diabetes()
    x_train, x_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.2, random_state=0)
    model = make_pipeline(StandardScaler(), Ridge()).fit(x_train, y_train)
    return model, held_out_csv(list(data.feature_names), x_test, [repr(float(value)) for value in y_test])


def held_out_csv(names: list[str], rows, targets: list[str]) -> str:
    lines = [",".join(["target", *names])]
    lines += [",".join([target, *(repr(float(v)) for v in row)]) for target, row in zip(targets, rows, strict=True)]
    return "\n".join(lines) + "\n"


def request_rows(body: bytes, content_type: str) -> np.ndarray:
    if content_type == "text/csv":
        return np.loadtxt(io.StringIO(body.decode()), delimiter=",", ndmin=2)
    return np.array(json.loads(body)["instances"], dtype=float)


def contract_response(model, body: bytes, content_type: str) -> dict:
    """What the ModelBuild inference.py answers for one request."""
    rows = request_rows(body, content_type)
    if not hasattr(model, "predict_proba"):
        return {"predictions": [{"value": float(value)} for value in model.predict(rows)]}
    probabilities = model.predict_proba(rows)
    return {
        "predictions": [
            {
                "label": int(model.classes_[row.argmax()]),
                "probabilities": {str(int(label)): float(p) for label, p in zip(model.classes_, row, strict=True)},
            }
            for row in probabilities
        ]
    }


class ModelEndpoint:
    """sagemaker-runtime stand-in that serves the model per the contract."""

    def __init__(self, model, delay_seconds: float = 0.0):
        self.model = model
        self.delay_seconds = delay_seconds
        self.content_types: list[str] = []

    def answer(self, body: bytes, content_type: str) -> bytes:
        return json.dumps(contract_response(self.model, body, content_type)).encode()

    def invoke_endpoint(self, EndpointName, ContentType, Accept, Body):
        self.content_types.append(ContentType)
        time.sleep(self.delay_seconds)
        return {"Body": io.BytesIO(self.answer(Body, ContentType)), "ContentType": "application/json"}


class WrongLabelEndpoint(ModelEndpoint):
    """Well-formed answers with every label (and its probabilities) flipped."""

    def answer(self, body, content_type):
        document = contract_response(self.model, body, content_type)
        for item in document["predictions"]:
            item["label"] = 1 - item["label"]
            item["probabilities"] = {"0": item["probabilities"]["1"], "1": item["probabilities"]["0"]}
        return json.dumps(document).encode()


class MeanEndpoint(ModelEndpoint):
    """Well-formed regression answers that ignore the features: the training mean for every row."""

    def answer(self, body, content_type):
        rows = request_rows(body, content_type)
        return json.dumps({"predictions": [{"value": 152.0}] * len(rows)}).encode()


class MalformedEndpoint(ModelEndpoint):
    def answer(self, body, content_type):
        return b'{"predictions": [0, 1'


class FailingEndpoint(ModelEndpoint):
    def invoke_endpoint(self, **kwargs):
        raise ClientError(
            {"Error": {"Code": "ModelError", "Message": "Received server error (500) from primary"}}, "InvokeEndpoint"
        )


def quality_report(problem_type: str, metric: str, threshold: float, parameter: str) -> dict:
    """The part of ModelBuild's evaluation.json the staging test reads."""
    return {
        f"{problem_type}_metrics": {metric: {"value": 0.0, "standard_deviation": 0.0}},
        "quality_gate": {
            "problem_type": problem_type,
            "metric": metric,
            "value": 0.0,
            "threshold": threshold,
            "threshold_parameter": parameter,
        },
    }


def deploy_for_test(sagemaker, s3, tmp_path, csv: str, report: dict | None) -> dict:
    """A staging endpoint in moto, its model package with metadata and quality report, and the build config."""
    suffix = uuid.uuid4().hex[:8]
    bucket = f"sagemaker-project-{suffix}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="pipeline/test/test.csv", Body=csv.encode())
    report_uri = None
    if report is not None:
        s3.put_object(Bucket=bucket, Key="pipeline/evaluation/evaluation.json", Body=json.dumps(report).encode())
        report_uri = f"s3://{bucket}/pipeline/evaluation/evaluation.json"
    group = f"proj-{suffix}"
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    package = register_package(
        sagemaker,
        group,
        "Approved",
        {"TestDataS3Uri": f"s3://{bucket}/pipeline/test/test.csv", "TargetColumn": "target"},
        report_uri,
    )
    endpoint = f"proj-{suffix}-staging"
    sagemaker.create_model(
        ModelName=f"m-{suffix}", ExecutionRoleArn=ROLE_ARN, Containers=[{"ModelPackageName": package}]
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"c-{suffix}",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"m-{suffix}",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"c-{suffix}")
    config = tmp_path / "staging-config-export.json"
    config.write_text(json.dumps({"Parameters": {"EndpointName": endpoint, "ModelPackageName": package}, "Tags": {}}))
    return {"config": config, "report": tmp_path / "test-results.xml", "package": package, "endpoint": endpoint}


@pytest.fixture
def staging_deployment(sagemaker, s3, trained, tmp_path):
    report = quality_report("binary_classification", "accuracy", 0.9, "AccuracyThreshold")
    return deploy_for_test(sagemaker, s3, tmp_path, trained[1], report)


@pytest.fixture
def regression_deployment(sagemaker, s3, trained_regressor, tmp_path):
    report = quality_report("regression", "r2", 0.3, "R2Threshold")
    return deploy_for_test(sagemaker, s3, tmp_path, trained_regressor[1], report)


def run_staging_test(deployment, runtime, sagemaker, s3, *extra: str) -> int:
    clients = staging_test.Clients(sagemaker=sagemaker, sagemaker_runtime=runtime, s3=s3)
    argv = ["--build-config", str(deployment["config"]), "--report", str(deployment["report"])]
    argv += ["--poll-seconds", "0.01", "--timeout-seconds", "2", *extra]
    return staging_test.main(argv, environ={}, clients=clients)


def report_cases(path: Path) -> dict[str, str]:
    """Outcome per check name from the JUnit report: passed, failure or skipped."""
    outcomes = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.find("failure") is not None:
            outcomes[case.get("name")] = "failure"
        elif case.find("skipped") is not None:
            outcomes[case.get("name")] = "skipped"
        else:
            outcomes[case.get("name")] = "passed"
    return outcomes


def test_correct_endpoint_passes_every_check(staging_deployment, trained, sagemaker, s3, capsys):
    runtime = ModelEndpoint(trained[0])
    assert run_staging_test(staging_deployment, runtime, sagemaker, s3) == 0

    outcomes = report_cases(staging_deployment["report"])
    assert len(outcomes) == 5 and set(outcomes.values()) == {"passed"}
    output = capsys.readouterr().out
    assert "RESULT: PASSED" in output
    assert "114 rows" in output
    # small CSV batches, plus one JSON request checking the other content type
    assert runtime.content_types.count("text/csv") == 12
    assert runtime.content_types.count("application/json") == 1


def test_wrong_labels_fail_the_accuracy_check(staging_deployment, trained, sagemaker, s3, capsys):
    assert run_staging_test(staging_deployment, WrongLabelEndpoint(trained[0]), sagemaker, s3) == 1

    outcomes = report_cases(staging_deployment["report"])
    assert outcomes["quality reaches the package's threshold"] == "failure"
    assert outcomes["responses follow the serving contract"] == "passed"
    output = capsys.readouterr().out
    assert "FAIL  quality reaches the package's threshold: accuracy 0.0" in output
    assert "threshold 0.9 (AccuracyThreshold): below the threshold" in output


def test_a_regression_endpoint_is_judged_by_r2(regression_deployment, trained_regressor, sagemaker, s3, capsys):
    model, csv = trained_regressor
    runtime = ModelEndpoint(model)
    assert run_staging_test(regression_deployment, runtime, sagemaker, s3) == 0
    assert set(report_cases(regression_deployment["report"]).values()) == {"passed"}
    rows = parse_test_csv(csv, "target", "test.csv")
    expected = r2_score(rows.targets, model.predict(np.array(rows.features, dtype=float)))
    output = capsys.readouterr().out
    assert f"PASS  quality reaches the package's threshold: r2 {expected:.4f} on 89 rows" in output
    assert "threshold 0.3 (R2Threshold)" in output


def test_a_regression_that_ignores_its_features_fails_the_r2_check(
    regression_deployment, trained_regressor, sagemaker, s3, capsys
):
    assert run_staging_test(regression_deployment, MeanEndpoint(trained_regressor[0]), sagemaker, s3) == 1
    outcomes = report_cases(regression_deployment["report"])
    assert outcomes["responses follow the serving contract"] == "passed"
    assert outcomes["quality reaches the package's threshold"] == "failure"
    assert "threshold 0.3 (R2Threshold): below the threshold" in capsys.readouterr().out


def test_a_classifier_answer_to_a_regression_package_breaks_the_contract(
    regression_deployment, trained, sagemaker, s3, capsys
):
    class LabelsForRegression(ModelEndpoint):
        def answer(self, body, content_type):
            rows = request_rows(body, content_type)
            return json.dumps({"predictions": [{"label": 1, "probabilities": {"1": 1.0}}] * len(rows)}).encode()

    assert run_staging_test(regression_deployment, LabelsForRegression(trained[0]), sagemaker, s3) == 1
    assert 'expected an object like {"value": <number>}' in capsys.readouterr().out


def test_malformed_json_fails_the_format_check(staging_deployment, trained, sagemaker, s3, capsys):
    assert run_staging_test(staging_deployment, MalformedEndpoint(trained[0]), sagemaker, s3) == 1

    outcomes = report_cases(staging_deployment["report"])
    assert outcomes["responses follow the serving contract"] == "failure"
    assert outcomes["quality reaches the package's threshold"] == "failure"
    assert "response is not JSON" in capsys.readouterr().out


def test_slow_endpoint_fails_the_latency_budget(staging_deployment, trained, sagemaker, s3, capsys):
    slow = ModelEndpoint(trained[0], delay_seconds=0.02)
    assert (
        run_staging_test(staging_deployment, slow, sagemaker, s3, "--latency-budget-ms", "5", "--batch-size", "40") == 1
    )

    outcomes = report_cases(staging_deployment["report"])
    assert outcomes["p95 latency is within budget"] == "failure"
    assert outcomes["quality reaches the package's threshold"] == "passed"
    assert "over budget" in capsys.readouterr().out


def test_invocation_errors_are_reported_per_request(staging_deployment, trained, sagemaker, s3, capsys):
    assert run_staging_test(staging_deployment, FailingEndpoint(trained[0]), sagemaker, s3) == 1
    output = capsys.readouterr().out
    assert "13 of 13 requests broke the serving contract" in output
    assert "Received server error (500)" in output
    assert "no request succeeded" in output


def test_missing_package_metadata_fails_early_and_skips_the_rest(staging_deployment, trained, sagemaker, s3, capsys):
    group = staging_deployment["package"].split("/")[-2]
    unlabelled = register_package(sagemaker, group, "Approved", {"TargetColumn": "target"})
    config = json.loads(staging_deployment["config"].read_text())
    config["Parameters"]["ModelPackageName"] = unlabelled
    staging_deployment["config"].write_text(json.dumps(config))
    runtime = ModelEndpoint(trained[0])
    assert run_staging_test(staging_deployment, runtime, sagemaker, s3) == 1

    outcomes = report_cases(staging_deployment["report"])
    assert outcomes["test inputs are readable"] == "failure"
    assert list(outcomes.values()).count("skipped") == 4
    assert runtime.content_types == []
    assert "lacks CustomerMetadataProperties TestDataS3Uri" in capsys.readouterr().out


def point_config_at(deployment, package: str) -> None:
    config = json.loads(deployment["config"].read_text())
    config["Parameters"]["ModelPackageName"] = package
    deployment["config"].write_text(json.dumps(config))


def test_a_package_without_a_quality_report_fails_early_naming_it(staging_deployment, trained, sagemaker, s3, capsys):
    group = staging_deployment["package"].split("/")[-2]
    metadata = sagemaker.describe_model_package(ModelPackageName=staging_deployment["package"])
    point_config_at(
        staging_deployment, register_package(sagemaker, group, "Approved", metadata["CustomerMetadataProperties"])
    )
    assert run_staging_test(staging_deployment, ModelEndpoint(trained[0]), sagemaker, s3) == 1
    assert report_cases(staging_deployment["report"])["test inputs are readable"] == "failure"
    assert "has no ModelMetrics.ModelQuality.Statistics report" in capsys.readouterr().out


def test_a_classifier_registered_with_only_an_accuracy_threshold_is_judged_on_accuracy(
    staging_deployment, trained, sagemaker, s3, capsys
):
    """Packages registered by hand or by an earlier ModelBuild carry AccuracyThreshold, no quality report."""
    group = staging_deployment["package"].split("/")[-2]
    metadata = sagemaker.describe_model_package(ModelPackageName=staging_deployment["package"])
    legacy = {**metadata["CustomerMetadataProperties"], "AccuracyThreshold": "0.9"}
    point_config_at(staging_deployment, register_package(sagemaker, group, "Approved", legacy))
    assert run_staging_test(staging_deployment, WrongLabelEndpoint(trained[0]), sagemaker, s3) == 1
    assert "threshold 0.9 (AccuracyThreshold): below the threshold" in capsys.readouterr().out
    assert run_staging_test(staging_deployment, ModelEndpoint(trained[0]), sagemaker, s3) == 0


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        ({"binary_classification_metrics": {}}, 'has no "quality_gate" object'),
        ({"quality_gate": {"problem_type": "ranking"}}, "problem_type must be one of"),
        ({"quality_gate": {"problem_type": "regression", "metric": "mape"}}, "metric must be one of"),
        (
            {"quality_gate": {"problem_type": "regression", "metric": "r2", "threshold": "0.3"}},
            "threshold must be a number",
        ),
    ],
)
def test_a_quality_report_without_a_usable_gate_is_refused(report, expected):
    with pytest.raises(InputError, match=expected):
        read_quality_gate(report, "s3://b/evaluation.json")


def test_endpoint_that_never_comes_up_fails_with_the_timeout(staging_deployment, trained, s3, capsys):
    class CreatingForever:
        def __init__(self, real):
            self.real = real

        def describe_model_package(self, **kwargs):
            return self.real.describe_model_package(**kwargs)

        def describe_endpoint(self, EndpointName):
            return {"EndpointName": EndpointName, "EndpointStatus": "Creating"}

    import boto3

    control = CreatingForever(boto3.client("sagemaker"))
    assert (
        run_staging_test(staging_deployment, ModelEndpoint(trained[0]), control, s3, "--timeout-seconds", "0.05") == 1
    )
    output = capsys.readouterr().out
    assert "not InService after 0.05 s (last seen: Creating)" in output
    assert report_cases(staging_deployment["report"])["endpoint is InService"] == "failure"


def test_wait_stops_at_once_on_a_failed_endpoint():
    class Failed:
        calls = 0

        def describe_endpoint(self, EndpointName):
            Failed.calls += 1
            return {"EndpointStatus": "Failed", "FailureReason": "image not found"}

    with pytest.raises(EndpointNotReady, match="is Failed: image not found"):
        wait_for_in_service(Failed(), "e", timeout_seconds=600, poll_seconds=0, sleep=lambda s: None)
    assert Failed.calls == 1


def test_wait_returns_once_the_endpoint_is_in_service():
    statuses = iter(["Creating", "Creating", "InService"])

    class Coming:
        def describe_endpoint(self, EndpointName):
            return {"EndpointStatus": next(statuses)}

    naps = []
    assert wait_for_in_service(Coming(), "e", timeout_seconds=600, poll_seconds=30, sleep=naps.append) == "InService"
    assert naps == [30, 30]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"predictions": [{"label": 1, "probabilities": {"0": 0.1, "1": 0.9}}]}', "expected 2 predictions"),
        (b'{"results": []}', 'a JSON object with a "predictions" list'),
        (b'{"predictions": [{"label": "1", "probabilities": {"0": 0.1, "1": 0.9}}, {}]}', "label: expected an integer"),
        (b'{"predictions": [{"label": 1, "probabilities": {"0": 0.5, "1": 0.9}}, {}]}', "should sum to 1"),
        (b'{"predictions": [{"label": 2, "probabilities": {"0": 0.1, "1": 0.9}}, {}]}', "label 2 has no entry"),
        (b'{"predictions": [1, 0]}', 'expected an object with "label"'),
    ],
)
def test_response_format_problems_say_what_was_expected(body, expected):
    with pytest.raises(ResponseFormatError, match=expected):
        parse_predictions(body, expected_count=2)


def test_latency_is_measured_per_request():
    ticks = iter([0.0, 0.010, 1.0, 1.250])

    class Instant:
        def invoke_endpoint(self, **kwargs):
            rows = kwargs["Body"].decode().count("\n")
            item = {"label": 0, "probabilities": {"0": 1.0, "1": 0.0}}
            return {"Body": io.BytesIO(json.dumps({"predictions": [item] * rows}).encode())}

    results = invoke_in_batches(Instant(), "e", [["1"], ["2"], ["3"]], batch_size=2, clock=lambda: next(ticks))
    assert results.requests == 2
    assert [round(ms) for ms in results.latencies_ms] == [10, 250]
    assert results.predictions == [0, 0, 0]


def test_metrics():
    assert accuracy([1, 0, None, 1], [1.0, 1.0, 0.0, 1.0]) == 0.5
    expected, predicted = [3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0]
    assert r2(predicted, expected) == pytest.approx(r2_score(expected, predicted))
    with pytest.raises(ValueError, match="1 of 4 rows got no answer"):
        r2([2.5, None, 2.0, 8.0], expected)
    assert percentile([float(v) for v in range(1, 101)], 95) == 95.0
    assert percentile([3.0], 95) == 3.0
    assert csv_body([["1.5", "2"], ["3", "4"]]) == b"1.5,2\n3,4\n"


def test_test_data_without_the_target_column_is_refused():
    with pytest.raises(InputError, match="has no column 'label' \\(TargetColumn\\)"):
        parse_test_csv("target,a\n1,2\n", "label", "s3://b/test.csv")


def queue_moto_answers(moto_endpoint: str, bodies: list[dict]) -> None:
    """moto's sagemaker-runtime answers each distinct request with the next queued result."""
    results = [{"Body": json.dumps(body), "ContentType": "application/json"} for body in bodies]
    request = urllib.request.Request(
        f"{moto_endpoint}/moto-api/static/sagemaker/endpoint-results",
        data=json.dumps({"results": results}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


def test_command_line_run_against_a_local_endpoint(staging_deployment, trained, aws_env, moto_endpoint):
    """The test buildspec's command in a fresh process that only knows AWS_ENDPOINT_URL."""
    model, test_csv = trained
    rows = parse_test_csv(test_csv, "target", "test.csv")
    batches = [rows.features[start : start + 10] for start in range(0, len(rows.features), 10)]
    answers = [contract_response(model, csv_body(batch), "text/csv") for batch in batches]
    answers.append(answers[0])  # the application/json request repeats the first batch
    queue_moto_answers(moto_endpoint, answers)

    completed = subprocess.run(
        [sys.executable, str(REPO / "test" / "test.py"), "--build-config", str(staging_deployment["config"])],
        cwd=staging_deployment["config"].parent,
        env={**os.environ, **aws_env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "RESULT: PASSED" in completed.stdout
    assert set(report_cases(staging_deployment["report"]).values()) == {"passed"}
