"""Score the trained model on the test split and write evaluation.json for the pipeline's PropertyFile.

The report follows SageMaker's model-quality layout (regression_metrics / classification_metrics),
which is also what a registered package's ModelMetrics point at.
"""

import argparse
import json
import pathlib
import tarfile

import joblib
import pandas as pd
from sklearn.metrics import accuracy_score, mean_squared_error, r2_score

BASE = pathlib.Path("/opt/ml/processing")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", choices=["regression", "classification"], required=True)
    args = parser.parse_args()
    with tarfile.open(BASE / "model" / "model.tar.gz") as archive:
        archive.extractall(BASE / "model" / "unpacked")
    model = joblib.load(BASE / "model" / "unpacked" / "model.joblib")
    test = pd.concat(pd.read_csv(p, header=None) for p in sorted((BASE / "test").glob("*.csv")))
    predicted = model.predict(test.iloc[:, 1:].to_numpy())
    actual = test.iloc[:, 0].to_numpy()
    if args.task == "regression":
        report = {
            "regression_metrics": {
                "mse": {"value": float(mean_squared_error(actual, predicted))},
                "r2": {"value": float(r2_score(actual, predicted))},
            }
        }
    else:
        report = {"classification_metrics": {"accuracy": {"value": float(accuracy_score(actual, predicted))}}}
    out = BASE / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(report))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
