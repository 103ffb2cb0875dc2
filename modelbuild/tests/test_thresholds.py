"""The default thresholds separate a model that learned from one that did not, for each problem type.

Reads the defaults from pipelines/parameters.py (change them there and this test follows): on
each kind of data a degenerate model (regularised to a constant) must fall below the default
gate, and the default model must reach it.
"""

from __future__ import annotations

import json

import pytest
from conftest import SHIPPED_CSV, run_steps, sklearn_dataset

from pipelines import parameters

THRESHOLDS = {
    "AccuracyThreshold": parameters.DEFAULT_ACCURACY_THRESHOLD,
    "R2Threshold": parameters.DEFAULT_R2_THRESHOLD,
}


@pytest.mark.parametrize("dataset", ["shipped", "wine", "diabetes"])
def test_default_gate_passes_the_default_model_and_stops_a_constant_one(tmp_path, dataset):
    csv = SHIPPED_CSV
    if dataset != "shipped":
        csv = tmp_path / f"{dataset}.csv"
        sklearn_dataset(dataset).to_csv(csv, index=False)
    gates = {}
    for name, c in [("default", parameters.DEFAULT_REGULARIZATION_C), ("constant", 1e-6)]:
        run = run_steps(tmp_path / name, csv, c=c, max_iter=parameters.DEFAULT_MAX_ITERATIONS)
        gate = json.loads(run["evaluation"].read_text())["quality_gate"]
        gates[name] = (gate["value"], THRESHOLDS[gate["threshold_parameter"]])
    value, threshold = gates["default"]
    assert value >= threshold, f"the default model scores {value}, below the default {threshold}"
    value, threshold = gates["constant"]
    assert value < threshold, f"a constant model scores {value}, not below the default {threshold}"
