"""Serving handlers for the SageMaker scikit-learn inference container.

The training step copies this file and features.py into the model archive under `code/`; the
registered model package's environment (SAGEMAKER_PROGRAM=inference.py,
SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code) makes the container load it.

Requests (feature values only, in training column order, no header, no target):
  text/csv          one row per line:            "17.99,10.38,...\n13.54,14.36,..."
  application/json  {"instances": [[...], ...]}  or a bare list of rows [[...], ...]
Response (application/json), for a classifier:
  {"predictions": [{"label": 0, "probabilities": {"0": 0.98, "1": 0.02}}, ...]}
and for a regressor:
  {"predictions": [{"value": 151.3}, ...]}
Malformed requests raise ValueError with a message saying what was expected.

The model is the whole fitted Pipeline of train.py, feature transformations included, so the
rows are transformed here exactly as in training.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import warnings

import joblib
import numpy as np
import pandas as pd

MODEL_FILE = "model.joblib"
JSON = "application/json"
CSV = "text/csv"

# train.py fits on a DataFrame, so scikit-learn remembers the column names and warns on every
# prediction from a bare array; requests carry values in training column order and predict_fn checks
# their number (see _predict_rows). This process only serves the model.
warnings.filterwarnings("ignore", message="X does not have valid feature names", category=UserWarning)

# Functions the model's feature steps use live in features.py beside this file: unpickling the
# model imports them from there.
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def model_fn(model_dir):
    """Load the fitted Pipeline that train.py saved."""
    path = os.path.join(model_dir, MODEL_FILE)
    if not os.path.isfile(path):
        raise ValueError(f"{MODEL_FILE} not found in {model_dir}: the model archive must contain it at its root")
    return joblib.load(path)


def _text(body) -> str:
    if isinstance(body, (bytes, bytearray)):
        try:
            return bytes(body).decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"request body must be UTF-8 text: {err}") from err
    if isinstance(body, str):
        return body
    raise ValueError(f"request body must be bytes or str, got {type(body).__name__}")


def _to_matrix(rows, source: str) -> np.ndarray:
    """Turn a list of rows into a 2-D float array, or explain what is wrong with them."""
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{source}: expected a non-empty list of rows of feature values")
    matrix = []
    for index, row in enumerate(rows):
        if not isinstance(row, (list, tuple)):
            raise ValueError(f"{source}: row {index} must be a list of numbers, got {type(row).__name__}")
        values = []
        for value in row:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                try:
                    value = float(str(value).strip())
                except ValueError:
                    raise ValueError(
                        f"{source}: row {index} holds {value!r}, expected numbers only "
                        "(send feature values without a header row or labels)"
                    ) from None
            if not math.isfinite(value):
                raise ValueError(f"{source}: row {index} holds {value!r}, expected finite numbers")
            values.append(float(value))
        matrix.append(values)
    widths = {len(r) for r in matrix}
    if len(widths) != 1:
        raise ValueError(f"{source}: every row must have the same number of values, got lengths {sorted(widths)}")
    return np.asarray(matrix, dtype=float)


def input_fn(request_body, request_content_type):
    """Parse a text/csv or application/json request into a 2-D array of features."""
    content_type = (request_content_type or "").split(";")[0].strip().lower()
    text = _text(request_body)
    if content_type == CSV:
        rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
        return _to_matrix(rows, "text/csv body")
    if content_type == JSON:
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"application/json body is not valid JSON: {err}") from err
        if isinstance(payload, dict):
            if "instances" not in payload:
                raise ValueError(
                    'application/json body must be {"instances": [[...], ...]} or a list of rows; '
                    f"got an object with keys {sorted(payload)}"
                )
            payload = payload["instances"]
        return _to_matrix(payload, "application/json body")
    raise ValueError(f"unsupported content type {request_content_type!r}: send {CSV} or {JSON}")


def _predicted(model, rows):
    return model.predict_proba(rows) if hasattr(model, "predict_proba") else model.predict(rows)


def _predict_rows(model, input_data):
    """The model's output for the rows, as an array in training column order where that works.

    A named DataFrame and scikit-learn's checks of it cost about three times the prediction
    itself, so rows go to the model as the array the request gave. A feature step that selects
    columns by name (a ColumnTransformer over "mean_area", say) needs the DataFrame: the first
    request that fails as an array is retried with the training column names, and the model
    gets them from then on.
    """
    names = getattr(model, "feature_names_in_", None)
    if names is None or not getattr(model, "needs_column_names_", False):
        try:
            return _predicted(model, input_data)
        except Exception:
            if names is None:
                raise
            predicted = _predicted(model, pd.DataFrame(input_data, columns=list(names)))  # a bad request fails here too
            model.needs_column_names_ = True  # only once the names are what made it work
            return predicted
    return _predicted(model, pd.DataFrame(input_data, columns=list(names)))


def predict_fn(input_data, model):
    """Predict a label and class probabilities per row, or a value for a regressor."""
    expected = getattr(model, "n_features_in_", None)
    if expected is not None and input_data.shape[1] != expected:
        raise ValueError(
            f"expected {expected} feature values per row, got {input_data.shape[1]} "
            "(send features only, in training column order, without the target)"
        )
    if not hasattr(model, "predict_proba"):
        return [{"value": float(value)} for value in _predict_rows(model, input_data)]
    probabilities = _predict_rows(model, input_data)
    classes = [int(c) for c in model.classes_]
    predictions = []
    for row in probabilities:
        best = int(np.argmax(row))
        predictions.append(
            {
                "label": classes[best],
                "probabilities": {str(c): float(p) for c, p in zip(classes, row, strict=True)},
            }
        )
    return predictions


def output_fn(prediction, accept):
    """Serialise predictions as JSON (the only response type the package declares)."""
    accept_type = (accept or JSON).split(";")[0].strip().lower()
    if accept_type not in (JSON, "*/*"):
        raise ValueError(f"unsupported accept type {accept!r}: this model responds with {JSON}")
    return json.dumps({"predictions": prediction})
