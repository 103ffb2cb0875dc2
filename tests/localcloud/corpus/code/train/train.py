"""A scikit-learn training script for the training toolkit (SKLearn estimator, entry_point + source_dir).

Reads the headerless CSV channels (target first), fits a ridge regression or a logistic regression,
prints the validation score in the form the tuning jobs' metric regex reads, and saves model.joblib.
"""

import argparse
import os
import pathlib

import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def read_channel(name: str) -> tuple:
    folder = os.environ.get(f"SM_CHANNEL_{name.upper()}")
    if not folder:
        return None, None
    frame = pd.concat([pd.read_csv(p, header=None) for p in sorted(pathlib.Path(folder).glob("*.csv"))])
    return frame.iloc[:, 1:].to_numpy(), frame.iloc[:, 0].to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", choices=["regression", "classification"], required=True)
    parser.add_argument("--alpha", type=float, default=1.0, help="ridge's alpha")
    # Not "--c": the training toolkit passes a one-letter hyperparameter as "-c", as on SageMaker.
    parser.add_argument("--regularization", type=float, default=1.0, help="logistic regression's C")
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    args = parser.parse_args()

    features, target = read_channel("train")
    if args.task == "regression":
        estimator = Ridge(alpha=args.alpha)
    else:
        estimator = LogisticRegression(C=args.regularization, max_iter=500)
    model = make_pipeline(StandardScaler(), estimator).fit(features, target)
    val_features, val_target = read_channel("validation")
    if val_features is not None:
        print(f"validation-score: {model.score(val_features, val_target):.6f}")
    joblib.dump(model, pathlib.Path(args.model_dir) / "model.joblib")


if __name__ == "__main__":
    main()
