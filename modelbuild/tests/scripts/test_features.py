"""Changing features: a transformation added to features.py is part of the model, so it serves.

The test does what the README's "Changing features" section tells a user to do: it adds a step
that uses a function defined in features.py, trains with `python train.py` as the training job
does, and serves the archive through inference.py's handlers in a fresh process, as the
endpoint does. The served answers must be those of the transformed model, not of raw rows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import TRAINING, archive_model

CHANGED_FEATURES = '''
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler


def cube(values):
    """Defined here, in features.py, so the endpoint can unpickle it."""
    return np.power(values, 3)


def build_features() -> Pipeline:
    cubed = ColumnTransformer([("cube", FunctionTransformer(cube), ["x"])], remainder="passthrough")
    return Pipeline([("cube_x", cubed), ("scale", StandardScaler())])
'''

SERVE = """
import json, sys
sys.path.insert(0, sys.argv[1] + "/code")
import inference
model = inference.model_fn(sys.argv[1])
body = sys.stdin.read()
print(inference.output_fn(inference.predict_fn(inference.input_fn(body, "text/csv"), model), "application/json"))
"""


@pytest.fixture(scope="module")
def changed_model(tmp_path_factory):
    """Train with the changed features.py on data whose target is x cubed (plus noise)."""
    root = tmp_path_factory.mktemp("features")
    code = root / "training"
    shutil.copytree(TRAINING, code)
    (code / "features.py").write_text(CHANGED_FEATURES)
    rng = np.random.default_rng(3)
    x, z = rng.uniform(-3, 3, 200), rng.normal(0, 1, 200)
    frame = pd.DataFrame({"target": x**3 + 0.1 * rng.normal(0, 1, 200), "x": x, "z": z})
    train_dir = root / "train"
    train_dir.mkdir()
    frame.to_csv(train_dir / "train.csv", index=False)
    (train_dir / "dataset.json").write_text(json.dumps({"problem_type": "regression"}))
    environment = {**os.environ, "SM_CHANNEL_TRAIN": str(train_dir), "SM_MODEL_DIR": str(root / "model")}
    environment.pop("PYTHONPATH", None)
    run = subprocess.run(
        [sys.executable, "train.py", "--C", "1000"], cwd=code, env=environment, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    return root / "model", frame


def served_values(model_dir, rows: pd.DataFrame, tmp_path) -> list[float]:
    """Pack, unpack into a fresh /opt/ml/model and invoke the handlers in a new process."""
    archive = archive_model(model_dir, tmp_path / "archive")
    model_root = tmp_path / "opt_ml_model"
    with tarfile.open(archive) as tar:
        tar.extractall(model_root, filter="data")
    run = subprocess.run(
        [sys.executable, "-c", SERVE, str(model_root)],
        input=rows.to_csv(header=False, index=False),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert run.returncode == 0, run.stderr
    return [p["value"] for p in json.loads(run.stdout)["predictions"]]


def load_with_its_features(model_dir):
    """Load model.joblib with the archive's features.py (not the repository's) as `features`."""
    saved = sys.modules.pop("features", None)
    sys.path.insert(0, str(model_dir / "code"))
    try:
        return joblib.load(model_dir / "model.joblib")
    finally:
        sys.path.remove(str(model_dir / "code"))
        sys.modules.pop("features", None)
        if saved is not None:
            sys.modules["features"] = saved


def test_the_archive_carries_the_changed_features_module(changed_model):
    model_dir, _ = changed_model
    assert "def cube(values)" in (model_dir / "code" / "features.py").read_text()


def test_a_feature_added_in_features_py_is_applied_at_serving_time(changed_model, tmp_path):
    model_dir, frame = changed_model
    rows = frame.drop(columns=["target"]).head(20)
    served = served_values(model_dir, rows, tmp_path)

    model = load_with_its_features(model_dir)
    assert served == pytest.approx(model.predict(rows).tolist())
    # cubing is what makes the linear model fit: the served values follow x**3 closely, which a
    # linear model on the raw x could not do
    assert np.corrcoef(served, rows["x"] ** 3)[0, 1] > 0.99
    without_cube = model.named_steps["model"].predict(model.named_steps["features"][1:].transform(rows.values))
    assert not np.allclose(served, without_cube)
