"""Evaluate step: score the trained model on the held-out test split and decide the quality gate.

Runs inside the scikit-learn processing container as
`python3 /opt/ml/processing/input/code/evaluate.py --accuracy-threshold 0.9 --r2-threshold 0.3 ...`, with
  --model-dir   (default /opt/ml/processing/model)       holding the training job's model.tar.gz
  --test-dir    (default /opt/ml/processing/test)        holding test.csv (target first) and dataset.json
  --output-dir  (default /opt/ml/processing/evaluation)  receiving evaluation.json and a plot

evaluation.json follows SageMaker's model-quality metrics format, with the section for the
problem type Preprocess decided (dataset.json):
  {"binary_classification_metrics": {"accuracy": {"value": 0.97, "standard_deviation": 0.01}, ...}}
  {"multiclass_classification_metrics": {"accuracy": ..., "weighted_f1": ..., "confusion_matrix": ...}}
  {"regression_metrics": {"mae": ..., "mse": ..., "rmse": ..., "r2": ...}}
plus one entry that is there for every type, the quality gate the pipeline's condition reads:
  "quality_gate": {"problem_type": "regression", "metric": "r2", "value": 0.46,
                   "threshold": 0.3, "threshold_parameter": "R2Threshold"}
Classifiers are gated on accuracy (AccuracyThreshold), regressors on R² (R2Threshold); both are
"higher is better", so the condition is always value >= threshold. The plot is
confusion_matrix.svg for classes and residuals.svg for a regression (plain SVG: the image has no
plotting library). Standard deviations are bootstrap estimates over the test set (seeded, so
runs repeat exactly).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tarfile
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

import joblib
import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn import metrics as skm

DEFAULT_MODEL_DIR = "/opt/ml/processing/model"
DEFAULT_TEST_DIR = "/opt/ml/processing/test"
DEFAULT_OUTPUT_DIR = "/opt/ml/processing/evaluation"
DEFAULT_MESSAGE_FILE = "/opt/ml/output/message"
MODEL_ARCHIVE = "model.tar.gz"
MODEL_FILE = "model.joblib"
DATASET_FILE = "dataset.json"
REPORT_FILE = "evaluation.json"
GATE_KEY = "quality_gate"
BOOTSTRAP_ROUNDS = 200  # resamples for the standard deviations
BOOTSTRAP_SEED = 0
# problem type -> (gated metric, the pipeline parameter holding its threshold)
GATES = {
    "binary_classification": ("accuracy", "AccuracyThreshold"),
    "multiclass_classification": ("accuracy", "AccuracyThreshold"),
    "regression": ("r2", "R2Threshold"),
}


class EvaluationError(ValueError):
    """The inputs cannot be evaluated; the message says which and why."""


def load_model(model_dir: Path, work_dir: Path):
    """Unpack model.tar.gz (or use an already unpacked model.joblib) and load the fitted Pipeline.

    The archive's code/ folder (features.py) goes on sys.path first: the model's feature steps
    may use functions defined there.
    """
    archive = Path(model_dir) / MODEL_ARCHIVE
    root = Path(model_dir)
    if archive.is_file():
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(work_dir, filter="data")
        except (tarfile.TarError, OSError) as err:
            raise EvaluationError(f"cannot unpack {archive}: {err}") from err
        root = Path(work_dir)
    model_path = root / MODEL_FILE
    if not model_path.is_file():
        raise EvaluationError(
            f"no {MODEL_ARCHIVE} containing {MODEL_FILE} (nor a bare {MODEL_FILE}) in {model_dir}: "
            "the training step must write model.joblib into SM_MODEL_DIR"
        )
    code_dir = str(root / "code")
    sys.path.insert(0, code_dir)
    try:
        return joblib.load(model_path)
    finally:
        sys.path.remove(code_dir)


def load_test_split(test_dir: Path, target_column: str) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Features, target and the dataset description Preprocess wrote next to test.csv."""
    path = Path(test_dir) / "test.csv"
    if not path.is_file():
        raise EvaluationError(f"expected {path} from the preprocess step's 'test' output")
    description_path = Path(test_dir) / DATASET_FILE
    if not description_path.is_file():
        raise EvaluationError(f"expected {description_path} from the preprocess step's 'test' output")
    description = json.loads(description_path.read_text())
    if description.get("problem_type") not in GATES:
        raise EvaluationError(f"{description_path}: unknown problem_type {description.get('problem_type')!r}")
    frame = pd.read_csv(path)
    if target_column not in frame.columns:
        raise EvaluationError(f"test.csv has no '{target_column}' column: set TargetColumn to the label column")
    if frame.empty:
        raise EvaluationError("test.csv has no rows: the input data set is too small")
    return frame.drop(columns=[target_column]), frame[target_column].to_numpy(), description


def _stat(value: float, samples: list[float]) -> dict:
    return {"value": float(value), "standard_deviation": float(np.std(samples)) if samples else 0.0}


def _bootstrap_indices(n: int) -> list[np.ndarray]:
    """Seeded resamples of the test set, used to estimate each metric's spread."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    return [rng.integers(0, n, n) for _ in range(BOOTSTRAP_ROUNDS)]


def _auc(is_positive: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half); NaN when one class is absent."""
    n_pos = int(is_positive.sum())
    n_neg = len(is_positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[is_positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _binary_scores(is_positive: np.ndarray, predicted_positive: np.ndarray, scores: np.ndarray) -> dict:
    """Accuracy, precision, recall, F1 and AUC from boolean labels/predictions (positive = True)."""
    tp = int(np.sum(is_positive & predicted_positive))
    fp = int(np.sum(~is_positive & predicted_positive))
    fn = int(np.sum(is_positive & ~predicted_positive))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "accuracy": float(np.mean(is_positive == predicted_positive)),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "auc": _auc(is_positive, scores),
    }


def confusion(labels: np.ndarray, predicted: np.ndarray, classes: list[int]) -> dict:
    """{actual: {predicted: count}} with string keys, as in SageMaker's model-quality reports."""
    matrix = skm.confusion_matrix(labels, predicted, labels=classes)
    return {str(a): {str(p): int(matrix[i][j]) for j, p in enumerate(classes)} for i, a in enumerate(classes)}


def binary_metrics(labels: np.ndarray, predicted: np.ndarray, positive_scores: np.ndarray, classes: list[int]) -> dict:
    """Metrics for two classes; the larger label (1) is the positive class."""
    positive = classes[1]
    is_positive = labels == positive
    predicted_positive = predicted == positive
    point = _binary_scores(is_positive, predicted_positive, positive_scores)
    samples = [
        _binary_scores(is_positive[idx], predicted_positive[idx], positive_scores[idx])
        for idx in _bootstrap_indices(len(labels))
    ]
    result = {name: _stat(value, [s[name] for s in samples if not np.isnan(s[name])]) for name, value in point.items()}
    tn, fp, fn, tp = skm.confusion_matrix(labels, predicted, labels=classes).ravel()
    result["true_positive_rate"] = _stat(tp / max(tp + fn, 1), [])
    result["true_negative_rate"] = _stat(tn / max(tn + fp, 1), [])
    result["false_positive_rate"] = _stat(fp / max(tn + fp, 1), [])
    result["false_negative_rate"] = _stat(fn / max(tp + fn, 1), [])
    majority = max(is_positive.mean(), 1 - is_positive.mean())
    result["accuracy_best_constant_classifier"] = _stat(majority, [])
    fpr, tpr, _ = skm.roc_curve(is_positive, positive_scores)
    result["receiver_operating_characteristic_curve"] = {
        "false_positive_rates": [float(x) for x in fpr],
        "true_positive_rates": [float(x) for x in tpr],
    }
    result["confusion_matrix"] = confusion(labels, predicted, classes)
    return {"binary_classification_metrics": result}


def multiclass_metrics(labels: np.ndarray, predicted: np.ndarray, classes: list[int]) -> dict:
    """Metrics for three or more classes (weighted averages, no ROC AUC)."""
    measures = {
        "accuracy": lambda y, p: skm.accuracy_score(y, p),
        "weighted_precision": lambda y, p: skm.precision_score(y, p, average="weighted", zero_division=0),
        "weighted_recall": lambda y, p: skm.recall_score(y, p, average="weighted", zero_division=0),
        "weighted_f1": lambda y, p: skm.f1_score(y, p, average="weighted", zero_division=0),
    }
    indices = _bootstrap_indices(len(labels))
    result = {
        name: _stat(fn(labels, predicted), [fn(labels[idx], predicted[idx]) for idx in indices])
        for name, fn in measures.items()
    }
    result["confusion_matrix"] = confusion(labels, predicted, classes)
    return {"multiclass_classification_metrics": result}


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict:
    """MAE, MSE, RMSE and R² (SageMaker's regression_metrics section)."""
    measures = {
        "mae": lambda y, p: skm.mean_absolute_error(y, p),
        "mse": lambda y, p: skm.mean_squared_error(y, p),
        "rmse": lambda y, p: math.sqrt(skm.mean_squared_error(y, p)),
        "r2": lambda y, p: skm.r2_score(y, p),
    }
    indices = [idx for idx in _bootstrap_indices(len(actual)) if np.unique(actual[idx]).size > 1]
    return {
        "regression_metrics": {
            name: _stat(fn(actual, predicted), [fn(actual[idx], predicted[idx]) for idx in indices])
            for name, fn in measures.items()
        }
    }


def quality_gate(report: dict, problem_type: str, thresholds: dict[str, float]) -> dict:
    """The one entry the pipeline's condition reads, whatever the problem type."""
    metric, parameter = GATES[problem_type]
    section = report[f"{problem_type}_metrics"]
    return {
        "problem_type": problem_type,
        "metric": metric,
        "value": section[metric]["value"],
        "threshold": float(thresholds[parameter]),
        "threshold_parameter": parameter,
    }


def _svg(width: int, height: int, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">\n' + "\n".join(body) + "\n</svg>\n"
    )


def confusion_matrix_svg(matrix: dict, title: str) -> str:
    """A labelled heat map of {actual: {predicted: count}}: darker is more rows."""
    classes = list(matrix)
    cell, margin = 48, 70
    size = margin + cell * len(classes) + 10
    largest = max([matrix[a][p] for a in classes for p in classes] + [1])
    body = [f'<text x="{size / 2}" y="18" text-anchor="middle">{escape(title)}</text>']
    body.append(f'<text x="{margin + cell * len(classes) / 2}" y="{size - 0}" text-anchor="middle">predicted</text>')
    body.append(
        f'<text x="12" y="{margin + cell * len(classes) / 2}" transform="rotate(-90 12 '
        f'{margin + cell * len(classes) / 2})" text-anchor="middle">actual</text>'
    )
    for i, actual in enumerate(classes):
        y = margin - 30 + i * cell
        body.append(f'<text x="{margin - 8}" y="{y + cell / 2 + 4}" text-anchor="end">{escape(actual)}</text>')
        for j, predicted in enumerate(classes):
            x = margin + j * cell
            count = matrix[actual][predicted]
            shade = int(245 - 190 * count / largest)
            ink = "white" if count > largest / 2 else "black"
            fill = f"rgb({shade},{shade},255)"
            body.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}"/>')
            body.append(
                f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}" text-anchor="middle" fill="{ink}">{count}</text>'
            )
    for j, predicted in enumerate(classes):
        x, y = margin + j * cell + cell / 2, margin - 30 + len(classes) * cell + 16
        body.append(f'<text x="{x}" y="{y}" text-anchor="middle">{escape(predicted)}</text>')
    return _svg(size, size + 10, body)


def residuals_svg(actual: np.ndarray, predicted: np.ndarray, title: str) -> str:
    """Residual (actual - predicted) against predicted value, one dot per test row, zero line dashed."""
    width, height, pad = 420, 320, 40
    residuals = actual - predicted
    x_low, x_high = float(predicted.min()), float(predicted.max())
    span = float(np.abs(residuals).max()) or 1.0
    x_span = (x_high - x_low) or 1.0

    def x_of(value: float) -> float:
        return pad + (value - x_low) / x_span * (width - 2 * pad)

    def y_of(value: float) -> float:
        return height / 2 - value / span * (height / 2 - pad)

    body = [
        f'<text x="{width / 2}" y="18" text-anchor="middle">{escape(title)}</text>',
        f'<line x1="{pad}" y1="{y_of(0)}" x2="{width - pad}" y2="{y_of(0)}" stroke="grey" stroke-dasharray="4 3"/>',
        f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle">predicted ({x_low:.3g} to {x_high:.3g})</text>',
        f'<text x="12" y="{height / 2}" transform="rotate(-90 12 {height / 2})" text-anchor="middle">'
        f"residual (±{span:.3g})</text>",
    ]
    body += [
        f'<circle cx="{x_of(p):.1f}" cy="{y_of(r):.1f}" r="2.5" fill="steelblue"/>'
        for p, r in zip(predicted.tolist(), residuals.tolist(), strict=True)
    ]
    return _svg(width, height, body)


def _finite(value):
    """NaN and infinities are not JSON: write them as SageMaker's reports do, as the string "NaN"."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN"
    return value


def evaluate(
    model_dir: Path,
    test_dir: Path,
    output_dir: Path,
    thresholds: dict[str, float],
    target_column: str = "target",
) -> dict:
    """Score the model on test.csv, write evaluation.json and a plot, return the report.

    `thresholds` maps each threshold parameter (AccuracyThreshold, R2Threshold) to its value.
    """
    features, target, description = load_test_split(test_dir, target_column)
    problem_type = description["problem_type"]
    with tempfile.TemporaryDirectory() as work_dir:
        model = load_model(model_dir, Path(work_dir))
    expected = getattr(model, "n_features_in_", features.shape[1])
    if features.shape[1] != expected:
        raise EvaluationError(
            f"test.csv has {features.shape[1]} feature columns but the model expects {expected}: "
            "train and evaluate on splits from the same preprocess run"
        )
    predicted = model.predict(features)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if problem_type == "regression":
        report = regression_metrics(target.astype(float), predicted.astype(float))
        title = f"residuals, R² {report['regression_metrics']['r2']['value']:.3f}"
        (output_dir / "residuals.svg").write_text(residuals_svg(target.astype(float), predicted.astype(float), title))
    else:
        if not hasattr(model, "predict_proba"):
            raise EvaluationError(
                f"dataset.json says {problem_type} but the model has no predict_proba: "
                "build_estimator must return a classifier for classes"
            )
        classes = sorted(int(c) for c in np.unique(np.concatenate([target, model.classes_])))
        if problem_type == "binary_classification":
            positive_index = list(model.classes_).index(classes[1])
            scores = model.predict_proba(features)[:, positive_index]
            report = binary_metrics(target, predicted, scores, classes)
        else:
            report = multiclass_metrics(target, predicted, classes)
        section = report[f"{problem_type}_metrics"]
        title = f"accuracy {section['accuracy']['value']:.3f}"
        (output_dir / "confusion_matrix.svg").write_text(confusion_matrix_svg(section["confusion_matrix"], title))
    report[GATE_KEY] = quality_gate(report, problem_type, thresholds)
    report = _finite(report)
    (output_dir / REPORT_FILE).write_text(json.dumps(report, indent=2))
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Evaluate the trained model on the test split.")
    parser.add_argument("--model-dir", type=Path, default=Path(DEFAULT_MODEL_DIR))
    parser.add_argument("--test-dir", type=Path, default=Path(DEFAULT_TEST_DIR))
    parser.add_argument("--output-dir", type=Path, default=Path(DEFAULT_OUTPUT_DIR))
    parser.add_argument("--target-column", default="target")
    parser.add_argument("--accuracy-threshold", type=float, required=True, help="gate for classifiers")
    parser.add_argument("--r2-threshold", type=float, required=True, help="gate for regressors")
    parser.add_argument("--message-file", type=Path, default=Path(DEFAULT_MESSAGE_FILE))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    thresholds = {"AccuracyThreshold": args.accuracy_threshold, "R2Threshold": args.r2_threshold}
    try:
        report = evaluate(args.model_dir, args.test_dir, args.output_dir, thresholds, args.target_column)
    except EvaluationError as err:
        message = f"Evaluate failed: {err}"
        print(message, file=sys.stderr)
        try:
            args.message_file.parent.mkdir(parents=True, exist_ok=True)
            args.message_file.write_text(message[:1024], encoding="utf-8")
        except OSError:
            pass
        return 1
    gate = report[GATE_KEY]
    print(
        f"{gate['problem_type']}: test {gate['metric']}={gate['value']:.6f} "
        f"(gate: {gate['threshold_parameter']} {gate['threshold']}); written to {args.output_dir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
