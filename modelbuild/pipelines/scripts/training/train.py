"""Train step: fit the classifier on the train split and save it with its serving code.

SageMaker's training driver runs this as `python train.py --C <float> --max_iter <int>`
(hyperparameters become command-line arguments) with the channels and model directory given by
SageMaker's environment variables:

- SM_CHANNEL_TRAIN       (default /opt/ml/input/data/train)       holds train.csv
- SM_CHANNEL_VALIDATION  (default /opt/ml/input/data/validation)  holds validation.csv (optional)
- SM_MODEL_DIR           (default /opt/ml/model)                   receives model.joblib

The model directory is uploaded as model.tar.gz. Besides `model.joblib` it gets
`code/inference.py` (copied from next to this file), so the archive is deployable on the
scikit-learn serving container as it is: SAGEMAKER_PROGRAM=inference.py and
SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code point the container at it.

To change the model, edit `build_model` (keep it a scikit-learn classifier with predict_proba).
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
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

MODEL_FILE = "model.joblib"
INFERENCE_SCRIPT = Path(__file__).resolve().parent / "inference.py"


def build_model(c: float, max_iter: int) -> Pipeline:
    """Scaled logistic regression: fast, strong on this dataset, gives class probabilities."""
    if c <= 0:
        raise ValueError(f"hyperparameter C must be > 0, got {c}")
    if max_iter < 1:
        raise ValueError(f"hyperparameter max_iter must be >= 1, got {max_iter}")
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("classify", LogisticRegression(C=c, max_iter=max_iter)),
        ]
    )


def load_split(channel_dir: Path, name: str, target_column: str) -> tuple[pd.DataFrame, pd.Series]:
    """Read <channel_dir>/<name>.csv (header row, target column first) into features and labels."""
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


def train(
    train_dir: Path,
    model_dir: Path,
    validation_dir: Path | None = None,
    target_column: str = "target",
    c: float = 1.0,
    max_iter: int = 1000,
) -> dict:
    """Fit, save model.joblib and code/inference.py into model_dir; return training metrics."""
    features, labels = load_split(train_dir, "train", target_column)
    model = build_model(c, max_iter).fit(features, labels)
    metrics = {"train_accuracy": float(accuracy_score(labels, model.predict(features)))}

    if validation_dir is not None and (Path(validation_dir) / "validation.csv").is_file():
        val_features, val_labels = load_split(validation_dir, "validation", target_column)
        if list(val_features.columns) != list(features.columns):
            raise ValueError("validation.csv columns differ from train.csv: re-run the preprocess step")
        metrics["validation_accuracy"] = float(accuracy_score(val_labels, model.predict(val_features)))

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / MODEL_FILE)
    code_dir = model_dir / "code"
    code_dir.mkdir(exist_ok=True)
    shutil.copy2(INFERENCE_SCRIPT, code_dir / "inference.py")
    return metrics


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(description="Train the classifier.")
    parser.add_argument("--C", dest="c", type=float, default=1.0, help="inverse regularization strength")
    parser.add_argument("--max_iter", type=int, default=1000, help="solver iteration limit")
    parser.add_argument("--target-column", "--target_column", dest="target_column", default="target")
    parser.add_argument(
        "--train-dir", type=Path, default=Path(env.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    )
    parser.add_argument(
        "--validation-dir",
        type=Path,
        default=Path(env.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")),
    )
    parser.add_argument("--model-dir", type=Path, default=Path(env.get("SM_MODEL_DIR", "/opt/ml/model")))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    metrics = train(
        args.train_dir, args.model_dir, args.validation_dir, args.target_column, args.c, args.max_iter
    )
    for name, value in metrics.items():
        # "name=value;" lines are what a MetricDefinition regex picks up from the job's logs.
        print(f"{name}={value:.6f};")
    print(json.dumps({"model_dir": str(args.model_dir), **metrics}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
