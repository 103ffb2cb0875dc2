"""Evaluation script: SageMaker model-quality JSON per problem type, the quality gate, the plots."""

from __future__ import annotations

import json
import math
import tarfile
import xml.etree.ElementTree as ElementTree

import joblib
import pandas as pd
import pytest
from conftest import THRESHOLDS, load_script, run_script
from sklearn import metrics

evaluate = load_script("evaluate.py")
SVG = "{http://www.w3.org/2000/svg}"


def report_of(run) -> dict:
    return json.loads(run["evaluation"].read_text())


def test_binary_report_uses_model_quality_format(step_run):
    report = report_of(step_run)
    assert list(report) == ["binary_classification_metrics", "quality_gate"]
    section = report["binary_classification_metrics"]
    for name in ("accuracy", "precision", "recall", "f1", "auc"):
        assert set(section[name]) == {"value", "standard_deviation"}
        assert 0.0 <= section[name]["value"] <= 1.0
        assert 0.0 <= section[name]["standard_deviation"] < 0.2
    assert set(section["receiver_operating_characteristic_curve"]) == {
        "false_positive_rates",
        "true_positive_rates",
    }


def test_binary_metrics_agree_with_scikit_learn_on_the_test_split(step_run):
    section = report_of(step_run)["binary_classification_metrics"]
    test = pd.read_csv(step_run["splits"] / "test" / "test.csv")
    model = joblib.load(step_run["model_dir"] / "model.joblib")
    features, labels = test.drop(columns=["target"]), test["target"]
    predicted = model.predict(features)
    assert section["accuracy"]["value"] == pytest.approx(metrics.accuracy_score(labels, predicted))
    assert section["precision"]["value"] == pytest.approx(metrics.precision_score(labels, predicted))
    assert section["recall"]["value"] == pytest.approx(metrics.recall_score(labels, predicted))
    assert section["f1"]["value"] == pytest.approx(metrics.f1_score(labels, predicted))
    assert section["auc"]["value"] == pytest.approx(metrics.roc_auc_score(labels, model.predict_proba(features)[:, 1]))
    matrix = metrics.confusion_matrix(labels, predicted, labels=[0, 1])
    assert section["confusion_matrix"] == {
        "0": {"0": int(matrix[0][0]), "1": int(matrix[0][1])},
        "1": {"0": int(matrix[1][0]), "1": int(matrix[1][1])},
    }
    assert section["accuracy_best_constant_classifier"]["value"] == pytest.approx(max(labels.mean(), 1 - labels.mean()))


def test_multiclass_data_gets_the_multiclass_section(multiclass_run):
    report = report_of(multiclass_run)
    assert list(report) == ["multiclass_classification_metrics", "quality_gate"]
    section = report["multiclass_classification_metrics"]
    test = pd.read_csv(multiclass_run["splits"] / "test" / "test.csv")
    model = joblib.load(multiclass_run["model_dir"] / "model.joblib")
    predicted = model.predict(test.drop(columns=["target"]))
    assert section["accuracy"]["value"] == pytest.approx(metrics.accuracy_score(test["target"], predicted))
    assert section["weighted_f1"]["value"] == pytest.approx(
        metrics.f1_score(test["target"], predicted, average="weighted")
    )
    assert set(section["confusion_matrix"]) == {"0", "1", "2"}


def test_regression_data_gets_the_regression_section(regression_run):
    report = report_of(regression_run)
    assert list(report) == ["regression_metrics", "quality_gate"]
    section = report["regression_metrics"]
    test = pd.read_csv(regression_run["splits"] / "test" / "test.csv")
    model = joblib.load(regression_run["model_dir"] / "model.joblib")
    predicted = model.predict(test.drop(columns=["target"]))
    assert set(section) == {"mae", "mse", "rmse", "r2"}
    assert section["mae"]["value"] == pytest.approx(metrics.mean_absolute_error(test["target"], predicted))
    assert section["mse"]["value"] == pytest.approx(metrics.mean_squared_error(test["target"], predicted))
    assert section["rmse"]["value"] == pytest.approx(math.sqrt(section["mse"]["value"]))
    assert section["r2"]["value"] == pytest.approx(metrics.r2_score(test["target"], predicted))
    assert all(0 < section[name]["standard_deviation"] < abs(section[name]["value"]) for name in section)


@pytest.mark.parametrize(
    ("run", "metric", "parameter"),
    [
        ("step_run", "accuracy", "AccuracyThreshold"),
        ("multiclass_run", "accuracy", "AccuracyThreshold"),
        ("regression_run", "r2", "R2Threshold"),
    ],
)
def test_the_quality_gate_names_the_metric_of_the_problem_type(request, run, metric, parameter):
    report = report_of(request.getfixturevalue(run))
    gate = report["quality_gate"]
    section_name = f"{gate['problem_type']}_metrics"
    assert list(report)[0] == section_name
    assert gate["metric"] == metric and gate["threshold_parameter"] == parameter
    assert gate["value"] == report[section_name][metric]["value"]
    assert gate["threshold"] == THRESHOLDS[parameter]


def svg_elements(path, tag: str) -> list:
    root = ElementTree.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return root.findall(f".//{SVG}{tag}")


def test_classifiers_get_a_confusion_matrix_plot_with_every_count(multiclass_run):
    (plot,) = multiclass_run["plots"]
    assert plot.name == "confusion_matrix.svg"
    matrix = report_of(multiclass_run)["multiclass_classification_metrics"]["confusion_matrix"]
    assert len(svg_elements(plot, "rect")) == 9
    texts = [t.text for t in svg_elements(plot, "text")]
    for actual in matrix:
        assert all(str(count) in texts for count in matrix[actual].values())


def test_regressions_get_a_residual_plot_with_a_dot_per_test_row(regression_run):
    (plot,) = regression_run["plots"]
    assert plot.name == "residuals.svg"
    rows = len(pd.read_csv(regression_run["splits"] / "test" / "test.csv"))
    assert len(svg_elements(plot, "circle")) == rows


def test_runs_as_a_script_on_a_model_archive(step_run, tmp_path):
    result = run_script(
        "evaluate.py",
        "--model-dir",
        str(step_run["archive"].parent),
        "--test-dir",
        str(step_run["splits"] / "test"),
        "--output-dir",
        str(tmp_path / "evaluation"),
        "--accuracy-threshold",
        str(THRESHOLDS["AccuracyThreshold"]),
        "--r2-threshold",
        str(THRESHOLDS["R2Threshold"]),
    )
    assert result.returncode == 0, result.stderr
    assert "binary_classification: test accuracy=" in result.stdout
    written = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    assert written == report_of(step_run)  # seeded: identical reruns
    assert (tmp_path / "evaluation" / "confusion_matrix.svg").is_file()


def test_thresholds_are_required_arguments(capsys):
    with pytest.raises(SystemExit):
        evaluate.parse_args(["--accuracy-threshold", "0.9"])
    assert "--r2-threshold" in capsys.readouterr().err


def test_defaults_are_sagemaker_processing_paths():
    args = evaluate.parse_args(["--accuracy-threshold", "0.9", "--r2-threshold", "0.3"])
    assert (str(args.model_dir), str(args.test_dir), str(args.output_dir)) == (
        "/opt/ml/processing/model",
        "/opt/ml/processing/test",
        "/opt/ml/processing/evaluation",
    )


def test_missing_model_is_reported_clearly(step_run, tmp_path):
    message_file = tmp_path / "message"
    code = evaluate.main(
        [
            "--model-dir",
            str(tmp_path),
            "--test-dir",
            str(step_run["splits"] / "test"),
            "--output-dir",
            str(tmp_path / "out"),
            "--accuracy-threshold",
            "0.9",
            "--r2-threshold",
            "0.3",
            "--message-file",
            str(message_file),
        ]
    )
    assert code == 1
    assert "no model.tar.gz containing model.joblib" in message_file.read_text()


def test_archive_with_unsafe_paths_is_not_extracted_outside(step_run, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    with tarfile.open(bad / "model.tar.gz", "w:gz") as tar:
        tar.add(step_run["model_dir"] / "model.joblib", arcname="../escaped.joblib")
    with pytest.raises(evaluate.EvaluationError, match="cannot unpack"):
        evaluate.evaluate(bad, step_run["splits"] / "test", tmp_path / "out", THRESHOLDS)
    assert not (tmp_path / "escaped.joblib").exists()
