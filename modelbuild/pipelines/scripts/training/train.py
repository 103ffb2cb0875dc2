"""Train step: fit the model on the train split and save it with its serving code.

SageMaker's training driver runs this as `python train.py --C <float> --max_iter <int>`
(hyperparameters become command-line arguments) with the channels and model directory given by
SageMaker's environment variables:

- SM_CHANNEL_TRAIN       (default /opt/ml/input/data/train)       holds train.csv and dataset.json
- SM_CHANNEL_VALIDATION  (default /opt/ml/input/data/validation)  holds validation.csv (optional)
- SM_MODEL_DIR           (default /opt/ml/model)                   receives model.joblib

dataset.json (written by the Preprocess step) says whether this is a classification or a
regression. The model is one scikit-learn Pipeline: the feature transformations of
features.py, then the estimator. The model directory is uploaded as model.tar.gz; besides
`model.joblib` it gets `code/inference.py` and `code/features.py` (copied from next to this
file), so the archive is deployable on the scikit-learn serving container as it is:
SAGEMAKER_PROGRAM=inference.py and SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code point the
container at it.

To change the estimator, edit `build_estimator`; to change the features, edit features.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import joblib
import pandas as pd
from features import build_features
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score
from sklearn.pipeline import Pipeline

MODEL_FILE = "model.joblib"
DATASET_FILE = "dataset.json"
HERE = Path(__file__).resolve().parent
SERVING_FILES = ("inference.py", "features.py")  # what the endpoint needs to load and run the model
PROBLEM_TYPES = ("binary_classification", "multiclass_classification", "regression")


def build_estimator(problem_type: str, c: float, max_iter: int):
    """Logistic regression for classes, ridge regression for numbers; C is the inverse regularisation."""
    if c <= 0:
        raise ValueError(f"hyperparameter C must be > 0, got {c}")
    if max_iter < 1:
        raise ValueError(f"hyperparameter max_iter must be >= 1, got {max_iter}")
    if problem_type not in PROBLEM_TYPES:
        raise ValueError(f"problem type must be one of {list(PROBLEM_TYPES)}, got {problem_type!r}")
    if problem_type == "regression":
        return Ridge(alpha=1.0 / c, max_iter=max_iter)
    return LogisticRegression(C=c, max_iter=max_iter)


def build_model(problem_type: str, c: float, max_iter: int) -> Pipeline:
    """Feature transformations and estimator in one Pipeline: training and serving run the same code."""
    return Pipeline([("features", build_features()), ("model", build_estimator(problem_type, c, max_iter))])


def read_problem_type(channel_dir: Path) -> str:
    """The problem type Preprocess decided, from dataset.json in the train channel."""
    path = Path(channel_dir) / DATASET_FILE
    if not path.is_file():
        raise FileNotFoundError(f"expected {path} from the preprocess step's 'train' output")
    return json.loads(path.read_text())["problem_type"]


def load_split(channel_dir: Path, name: str, target_column: str) -> tuple[pd.DataFrame, pd.Series]:
    """Read <channel_dir>/<name>.csv (header row, target column first) into features and target."""
    path = Path(channel_dir) / f"{name}.csv"
    if not path.is_file():
        present = sorted(p.name for p in Path(channel_dir).glob("*")) if Path(channel_dir).is_dir() else []
        raise FileNotFoundError(
            f"expected {path} from the preprocess step's '{name}' output, found {present or 'nothing'}"
        )
    frame = pd.read_csv(path)
    if target_column not in frame.columns:
        raise ValueError(
            f"{path.name} has no '{target_column}' column (columns: {list(frame.columns)[:5]}...): "
            "pass --target-column with the label column's name"
        )
    return frame.drop(columns=[target_column]), frame[target_column]


def score(problem_type: str, model: Pipeline, features: pd.DataFrame, target: pd.Series) -> float:
    predicted = model.predict(features)
    return float(r2_score(target, predicted) if problem_type == "regression" else accuracy_score(target, predicted))


def train(
    train_dir: Path,
    model_dir: Path,
    validation_dir: Path | None = None,
    target_column: str = "target",
    c: float = 1.0,
    max_iter: int = 1000,
) -> dict:
    """Fit, save model.joblib and the serving code into model_dir; return training metrics."""
    problem_type = read_problem_type(train_dir)
    metric = "r2" if problem_type == "regression" else "accuracy"
    features, target = load_split(train_dir, "train", target_column)
    model = build_model(problem_type, c, max_iter).fit(features, target)
    metrics = {f"train_{metric}": score(problem_type, model, features, target)}

    if validation_dir is not None and (Path(validation_dir) / "validation.csv").is_file():
        val_features, val_target = load_split(validation_dir, "validation", target_column)
        if list(val_features.columns) != list(features.columns):
            raise ValueError("validation.csv columns differ from train.csv: re-run the preprocess step")
        metrics[f"validation_{metric}"] = score(problem_type, model, val_features, val_target)

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / MODEL_FILE)
    code_dir = model_dir / "code"
    code_dir.mkdir(exist_ok=True)
    for name in SERVING_FILES:
        shutil.copy2(HERE / name, code_dir / name)
    return metrics


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(description="Train the model.")
    parser.add_argument("--C", dest="c", type=float, default=1.0, help="inverse regularization strength")
    parser.add_argument("--max_iter", type=int, default=1000, help="solver iteration limit")
    parser.add_argument("--target-column", "--target_column", dest="target_column", default="target")
    parser.add_argument("--train-dir", type=Path, default=Path(env.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")))
    parser.add_argument(
        "--validation-dir",
        type=Path,
        default=Path(env.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")),
    )
    parser.add_argument("--model-dir", type=Path, default=Path(env.get("SM_MODEL_DIR", "/opt/ml/model")))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    metrics = train(args.train_dir, args.model_dir, args.validation_dir, args.target_column, args.c, args.max_iter)
    for name, value in metrics.items():
        # "name=value;" lines are what a MetricDefinition regex picks up from the job's logs.
        print(f"{name}={value:.6f};")
    print(json.dumps({"model_dir": str(args.model_dir), **metrics}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
