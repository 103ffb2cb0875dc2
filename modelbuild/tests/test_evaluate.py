"""Evaluation script: SageMaker model-quality JSON, consistent metrics, confusion-matrix PNG."""

from __future__ import annotations

import json
import tarfile

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import load_script, run_script
from sklearn import metrics

evaluate = load_script("evaluate.py")
train = load_script("training/train.py")


def test_report_uses_model_quality_format(step_run):
    report = json.loads(step_run["evaluation"].read_text())
    assert list(report) == ["binary_classification_metrics"]
    section = report["binary_classification_metrics"]
    for name in ("accuracy", "precision", "recall", "f1", "auc"):
        assert set(section[name]) == {"value", "standard_deviation"}
        assert 0.0 <= section[name]["value"] <= 1.0
        assert 0.0 <= section[name]["standard_deviation"] < 0.2
    assert set(section["receiver_operating_characteristic_curve"]) == {
        "false_positive_rates",
        "true_positive_rates",
    }


def test_metrics_agree_with_scikit_learn_on_the_test_split(step_run):
    section = json.loads(step_run["evaluation"].read_text())["binary_classification_metrics"]
    test = pd.read_csv(step_run["splits"] / "test" / "test.csv")
    model = joblib.load(step_run["model_dir"] / "model.joblib")
    features, labels = test.drop(columns=["target"]), test["target"]
    predicted = model.predict(features)
    assert section["accuracy"]["value"] == pytest.approx(metrics.accuracy_score(labels, predicted))
    assert section["precision"]["value"] == pytest.approx(metrics.precision_score(labels, predicted))
    assert section["recall"]["value"] == pytest.approx(metrics.recall_score(labels, predicted))
    assert section["f1"]["value"] == pytest.approx(metrics.f1_score(labels, predicted))
    assert section["auc"]["value"] == pytest.approx(
        metrics.roc_auc_score(labels, model.predict_proba(features)[:, 1])
    )
    matrix = metrics.confusion_matrix(labels, predicted, labels=[0, 1])
    assert section["confusion_matrix"] == {
        "0": {"0": int(matrix[0][0]), "1": int(matrix[0][1])},
        "1": {"0": int(matrix[1][0]), "1": int(matrix[1][1])},
    }
    assert section["accuracy_best_constant_classifier"]["value"] == pytest.approx(
        max(labels.mean(), 1 - labels.mean())
    )


def test_confusion_matrix_png_is_written(step_run):
    assert step_run["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert step_run["png"].stat().st_size > 2000


def test_a_degenerate_model_scores_below_the_default_threshold(step_run, tmp_path):
    """Heavy regularisation collapses to the majority class: the 0.9 threshold must stop it."""
    from pipelines.parameters import DEFAULT_ACCURACY_THRESHOLD

    splits = step_run["splits"]
    train.train(splits / "train", tmp_path / "model", c=1e-6)
    report = evaluate.evaluate(tmp_path / "model", splits / "test", tmp_path / "eval")
    accuracy = report["binary_classification_metrics"]["accuracy"]["value"]
    assert accuracy < DEFAULT_ACCURACY_THRESHOLD
    good = json.loads(step_run["evaluation"].read_text())["binary_classification_metrics"]["accuracy"][
        "value"
    ]
    assert good >= DEFAULT_ACCURACY_THRESHOLD


def test_runs_as_a_script_on_a_model_archive(step_run, tmp_path):
    result = run_script(
        "evaluate.py",
        "--model-dir",
        str(step_run["archive"].parent),
        "--test-dir",
        str(step_run["splits"] / "test"),
        "--output-dir",
        str(tmp_path / "evaluation"),
    )
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    assert written == json.loads(step_run["evaluation"].read_text())  # seeded: identical reruns
    assert (tmp_path / "evaluation" / "confusion_matrix.png").is_file()


def test_defaults_are_sagemaker_processing_paths():
    args = evaluate.parse_args([])
    assert (str(args.model_dir), str(args.test_dir), str(args.output_dir)) == (
        "/opt/ml/processing/model",
        "/opt/ml/processing/test",
        "/opt/ml/processing/evaluation",
    )


def test_multiclass_models_get_the_multiclass_section(tmp_path):
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1, 2], 40)
    frame = pd.DataFrame(
        {"target": labels, "x": labels + rng.normal(0, 0.3, 120), "y": rng.normal(0, 1, 120)}
    )
    (tmp_path / "train").mkdir()
    (tmp_path / "test").mkdir()
    frame.to_csv(tmp_path / "train" / "train.csv", index=False)
    frame.to_csv(tmp_path / "test" / "test.csv", index=False)
    train.train(tmp_path / "train", tmp_path / "model")
    report = evaluate.evaluate(tmp_path / "model", tmp_path / "test", tmp_path / "eval")
    section = report["multiclass_classification_metrics"]
    assert section["accuracy"]["value"] > 0.8
    assert set(section["confusion_matrix"]) == {"0", "1", "2"}


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
        evaluate.evaluate(bad, step_run["splits"] / "test", tmp_path / "out")
    assert not (tmp_path / "escaped.joblib").exists()
