"""Serving handlers, loaded from the model archive exactly as the scikit-learn container does."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tarfile

import pandas as pd
import pytest


def serve(archive, model_root):
    """Unpack model.tar.gz like the endpoint does (/opt/ml/model) and import code/inference.py."""
    with tarfile.open(archive) as tar:
        tar.extractall(model_root, filter="data")
    spec = importlib.util.spec_from_file_location("served_inference", model_root / "code" / "inference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, module.model_fn(str(model_root))


@pytest.fixture(scope="module")
def served(step_run, tmp_path_factory):
    return serve(step_run["archive"], tmp_path_factory.mktemp("opt_ml_model"))


@pytest.fixture(scope="module")
def test_rows(step_run):
    test = pd.read_csv(step_run["splits"] / "test" / "test.csv")
    return test.drop(columns=["target"]), test["target"]


def invoke(handlers, body, content_type, accept="application/json"):
    module, model = handlers
    return json.loads(module.output_fn(module.predict_fn(module.input_fn(body, content_type), model), accept))


def test_csv_in_json_out(served, test_rows):
    features, labels = test_rows
    body = features.head(5).to_csv(header=False, index=False).encode()
    response = invoke(served, body, "text/csv")
    predictions = response["predictions"]
    assert len(predictions) == 5
    for prediction, expected in zip(predictions, labels.head(5), strict=True):
        assert prediction["label"] == expected
        assert set(prediction["probabilities"]) == {"0", "1"}
        assert sum(prediction["probabilities"].values()) == pytest.approx(1.0)
        assert prediction["probabilities"][str(prediction["label"])] >= 0.5


def test_json_instances_and_bare_list_give_the_same_answer(served, test_rows):
    rows = test_rows[0].head(3).values.tolist()
    as_instances = invoke(served, json.dumps({"instances": rows}), "application/json")
    as_list = invoke(served, json.dumps(rows).encode(), "application/json; charset=utf-8")
    as_csv = invoke(served, "\n".join(",".join(map(str, r)) for r in rows), "text/csv")
    assert as_instances == as_list == as_csv


def test_predictions_match_the_model(served, test_rows):
    _, model = served
    features, _ = test_rows
    response = invoke(served, features.to_csv(header=False, index=False), "text/csv")
    assert [p["label"] for p in response["predictions"]] == model.predict(features).tolist()
    # the model was fitted on named columns: values sent in that order get the same probabilities
    expected = model.predict_proba(features)
    for prediction, row in zip(response["predictions"], expected, strict=True):
        assert [prediction["probabilities"][str(c)] for c in model.classes_] == pytest.approx(row.tolist())


def test_a_regressor_answers_with_values(regression_run, tmp_path):
    handlers = serve(regression_run["archive"], tmp_path)
    _, model = handlers
    test = pd.read_csv(regression_run["splits"] / "test" / "test.csv").drop(columns=["target"]).head(4)
    response = invoke(handlers, test.to_csv(header=False, index=False), "text/csv")
    assert [set(p) for p in response["predictions"]] == [{"value"}] * 4
    assert [p["value"] for p in response["predictions"]] == pytest.approx(model.predict(test).tolist())


def test_multiclass_probabilities_cover_every_class(multiclass_run, tmp_path):
    handlers = serve(multiclass_run["archive"], tmp_path)
    test = pd.read_csv(multiclass_run["splits"] / "test" / "test.csv").drop(columns=["target"]).head(3)
    response = invoke(handlers, json.dumps({"instances": test.values.tolist()}), "application/json")
    assert [set(p["probabilities"]) for p in response["predictions"]] == [{"0", "1", "2"}] * 3


def test_serving_logs_no_warning_per_request(step_run, test_rows, tmp_path):
    """A fresh process, as the container runs it: the model's feature names must not produce a
    warning on every invocation (it would flood the endpoint's log)."""
    model_root = tmp_path / "opt_ml_model"
    with tarfile.open(step_run["archive"]) as tar:
        tar.extractall(model_root, filter="data")
    body = test_rows[0].head(2).to_csv(header=False, index=False)
    program = (
        "import sys; sys.path.insert(0, sys.argv[1] + '/code'); import inference as i; "
        "m = i.model_fn(sys.argv[1]); "
        "print(i.output_fn(i.predict_fn(i.input_fn(sys.argv[2], 'text/csv'), m), 'application/json'))"
    )
    run = subprocess.run(
        [sys.executable, "-W", "default", "-c", program, str(model_root), body],
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(json.loads(run.stdout)["predictions"]) == 2
    assert run.stderr == ""


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("mean_radius,mean_texture\n1,2\n", "text/csv", "holds 'mean_radius', expected numbers only"),
        ("1,2,3\n", "text/csv", "expected 30 feature values per row, got 3"),
        ("", "text/csv", "non-empty list of rows"),
        ("{not json", "application/json", "not valid JSON"),
        ('{"rows": [[1, 2]]}', "application/json", 'must be {"instances"'),
        ('{"instances": [[1, 2], [1]]}', "application/json", "same number of values"),
        ('{"instances": [1, 2]}', "application/json", "row 0 must be a list of numbers"),
        ("[[1, NaN]]", "application/json", "expected finite numbers"),
        ("1,2", "application/x-npy", "unsupported content type"),
    ],
    ids=[
        "csv-header",
        "wrong-width",
        "empty",
        "bad-json",
        "no-instances",
        "ragged",
        "flat-list",
        "nan",
        "content-type",
    ],
)
def test_malformed_requests_raise_value_error_saying_what_was_expected(served, body, content_type, expected):
    module, model = served
    with pytest.raises(ValueError) as error:
        module.predict_fn(module.input_fn(body, content_type), model)
    assert expected in str(error.value)


def test_unsupported_accept_type_is_refused(served):
    module, _ = served
    with pytest.raises(ValueError, match="responds with application/json"):
        module.output_fn([], "text/csv")


def test_missing_model_file_is_explained(served, tmp_path):
    module, _ = served
    with pytest.raises(ValueError, match="model.joblib not found"):
        module.model_fn(str(tmp_path))
