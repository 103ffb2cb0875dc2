"""Evaluate step: score the trained model on the held-out test split.

Runs inside the scikit-learn processing container as
`python3 /opt/ml/processing/input/code/evaluate.py [--target-column target]`, with
  --model-dir   (default /opt/ml/processing/model)       holding the training job's model.tar.gz
  --test-dir    (default /opt/ml/processing/test)        holding test.csv (target column first)
  --output-dir  (default /opt/ml/processing/evaluation)  receiving evaluation.json and confusion_matrix.png

evaluation.json follows SageMaker's model-quality metrics format, e.g.
  {"binary_classification_metrics": {"accuracy": {"value": 0.97, "standard_deviation": 0.01}, ...}}
The pipeline reads `binary_classification_metrics.accuracy.value` from it to decide whether to
register the model, and attaches the file to the model package as its model-quality statistics.
Standard deviations are bootstrap estimates over the test set (seeded, so runs repeat exactly).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tarfile
import tempfile
from pathlib import Path

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
BOOTSTRAP_ROUNDS = 200  # resamples for the standard deviations
BOOTSTRAP_SEED = 0


class EvaluationError(ValueError):
    """The inputs cannot be evaluated; the message says which and why."""


def load_model(model_dir: Path, work_dir: Path):
    """Unpack model.tar.gz (or use an already unpacked model.joblib) and load the classifier."""
    archive = Path(model_dir) / MODEL_ARCHIVE
    if archive.is_file():
        try:
            with tarfile.open(archive) as tar:
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(work_dir, filter="data")
                else:  # pragma: no cover - Pythons without extraction filters
                    tar.extractall(work_dir)
        except (tarfile.TarError, OSError) as err:
            raise EvaluationError(f"cannot unpack {archive}: {err}") from err
        model_path = Path(work_dir) / MODEL_FILE
    else:
        model_path = Path(model_dir) / MODEL_FILE
    if not model_path.is_file():
        raise EvaluationError(
            f"no {MODEL_ARCHIVE} containing {MODEL_FILE} (nor a bare {MODEL_FILE}) in {model_dir}: "
            "the training step must write model.joblib into SM_MODEL_DIR"
        )
    return joblib.load(model_path)


def load_test_split(test_dir: Path, target_column: str) -> tuple[pd.DataFrame, np.ndarray]:
    path = Path(test_dir) / "test.csv"
    if not path.is_file():
        raise EvaluationError(f"expected {path} from the preprocess step's 'test' output")
    frame = pd.read_csv(path)
    if target_column not in frame.columns:
        raise EvaluationError(
            f"test.csv has no '{target_column}' column: set TargetColumn to the label column"
        )
    if frame.empty:
        raise EvaluationError("test.csv has no rows: the input data set is too small")
    return frame.drop(columns=[target_column]), frame[target_column].to_numpy()


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


def binary_metrics(
    labels: np.ndarray, predicted: np.ndarray, positive_scores: np.ndarray, classes: list[int]
) -> dict:
    """Metrics for two classes; the larger label (1) is the positive class."""
    positive = classes[1]
    is_positive = labels == positive
    predicted_positive = predicted == positive
    point = _binary_scores(is_positive, predicted_positive, positive_scores)
    samples = [
        _binary_scores(is_positive[idx], predicted_positive[idx], positive_scores[idx])
        for idx in _bootstrap_indices(len(labels))
    ]
    result = {
        name: _stat(value, [s[name] for s in samples if not np.isnan(s[name])])
        for name, value in point.items()
    }
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


def plot_confusion_matrix(report: dict, path: Path) -> None:
    """Save the confusion matrix as a labelled heat map PNG (skipped, with a warning, without matplotlib)."""
    # Containers often run with a read-only home: give matplotlib a writable cache directory.
    os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="matplotlib-"))
    try:
        import matplotlib
    except ImportError:
        print(f"warning: matplotlib is not installed in this image, {path.name} not written", file=sys.stderr)
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    section = next(iter(report.values()))
    cm = section["confusion_matrix"]
    classes = list(cm)
    counts = np.array([[cm[a][p] for p in classes] for a in classes])
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(len(classes)), labels=classes)
    ax.set_yticks(range(len(classes)), labels=classes)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("actual label")
    ax.set_title(f"accuracy {section['accuracy']['value']:.3f}")
    threshold = counts.max() / 2 if counts.size else 0
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(
                j,
                i,
                str(counts[i, j]),
                ha="center",
                va="center",
                color="white" if counts[i, j] > threshold else "black",
            )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def evaluate(model_dir: Path, test_dir: Path, output_dir: Path, target_column: str = "target") -> dict:
    """Score the model on test.csv, write evaluation.json and confusion_matrix.png, return the report."""
    features, labels = load_test_split(test_dir, target_column)
    with tempfile.TemporaryDirectory() as work_dir:
        model = load_model(model_dir, Path(work_dir))
    expected = getattr(model, "n_features_in_", features.shape[1])
    if features.shape[1] != expected:
        raise EvaluationError(
            f"test.csv has {features.shape[1]} feature columns but the model expects {expected}: "
            "train and evaluate on splits from the same preprocess run"
        )
    predicted = model.predict(features)
    classes = sorted(int(c) for c in np.unique(np.concatenate([labels, model.classes_])))
    if len(classes) == 2:
        positive_index = list(model.classes_).index(classes[1])
        scores = model.predict_proba(features)[:, positive_index]
        report = binary_metrics(labels, predicted, scores, classes)
    else:
        report = multiclass_metrics(labels, predicted, classes)

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "evaluation.json").write_text(json.dumps(report, indent=2))
    plot_confusion_matrix(report, output_dir / "confusion_matrix.png")
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Evaluate the trained model on the test split.")
    parser.add_argument("--model-dir", type=Path, default=Path(DEFAULT_MODEL_DIR))
    parser.add_argument("--test-dir", type=Path, default=Path(DEFAULT_TEST_DIR))
    parser.add_argument("--output-dir", type=Path, default=Path(DEFAULT_OUTPUT_DIR))
    parser.add_argument("--target-column", default="target")
    parser.add_argument("--message-file", type=Path, default=Path(DEFAULT_MESSAGE_FILE))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = evaluate(args.model_dir, args.test_dir, args.output_dir, args.target_column)
    except EvaluationError as err:
        message = f"Evaluate failed: {err}"
        print(message, file=sys.stderr)
        try:
            args.message_file.parent.mkdir(parents=True, exist_ok=True)
            args.message_file.write_text(message[:1024], encoding="utf-8")
        except OSError:
            pass
        return 1
    section = next(iter(report.values()))
    print(f"test accuracy={section['accuracy']['value']:.6f}; written to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
