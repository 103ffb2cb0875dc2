"""Training script: fits on the train split, writes model.joblib plus code/inference.py."""

from __future__ import annotations

import joblib
import pandas as pd
import pytest
from conftest import SCRIPTS, load_script, run_script

train = load_script("training/train.py")


def test_model_and_serving_code_land_in_the_model_dir(step_run):
    model_dir = step_run["model_dir"]
    assert sorted(p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if p.is_file()) == [
        "code/inference.py",
        "model.joblib",
    ]
    assert (model_dir / "code" / "inference.py").read_bytes() == (
        SCRIPTS / "training" / "inference.py"
    ).read_bytes()


def test_trained_model_predicts_held_out_rows_well(step_run):
    model = joblib.load(step_run["model_dir"] / "model.joblib")
    validation = pd.read_csv(step_run["splits"] / "validation" / "validation.csv")
    features = validation.drop(columns=["target"])
    assert list(model.feature_names_in_) == list(features.columns)  # CSV column order
    assert (model.predict(features) == validation["target"]).mean() > 0.9


def test_runs_like_the_sagemaker_driver_with_env_channels_and_cli_hyperparameters(step_run, tmp_path):
    splits = step_run["splits"]
    model_dir = tmp_path / "model"
    result = run_script(
        "training/train.py",
        "--C",
        "0.5",
        "--max_iter",
        "200",
        "--target_column",
        "target",
        env={
            "SM_CHANNEL_TRAIN": str(splits / "train"),
            "SM_CHANNEL_VALIDATION": str(splits / "validation"),
            "SM_MODEL_DIR": str(model_dir),
        },
    )
    assert result.returncode == 0, result.stderr
    assert "validation_accuracy=" in result.stdout
    model = joblib.load(model_dir / "model.joblib")
    assert model.named_steps["classify"].C == 0.5
    assert model.named_steps["classify"].max_iter == 200
    assert (model_dir / "code" / "inference.py").is_file()


def test_defaults_are_sagemaker_training_paths(monkeypatch):
    for name in ("SM_CHANNEL_TRAIN", "SM_CHANNEL_VALIDATION", "SM_MODEL_DIR"):
        monkeypatch.delenv(name, raising=False)
    args = train.parse_args([])
    assert (str(args.train_dir), str(args.validation_dir), str(args.model_dir)) == (
        "/opt/ml/input/data/train",
        "/opt/ml/input/data/validation",
        "/opt/ml/model",
    )


def test_invalid_hyperparameters_are_rejected():
    with pytest.raises(ValueError, match="C must be > 0"):
        train.build_model(0.0, 100)
    with pytest.raises(ValueError, match="max_iter must be >= 1"):
        train.build_model(1.0, 0)


def test_missing_train_split_names_the_expected_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train\.csv from the preprocess step's 'train' output"):
        train.train(tmp_path / "nothing", tmp_path / "model")


def test_wrong_target_column_is_named(step_run, tmp_path):
    with pytest.raises(ValueError, match="has no 'label' column"):
        train.train(step_run["splits"] / "train", tmp_path / "model", target_column="label")
