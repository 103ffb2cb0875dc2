"""Training script: the estimator the problem type needs, model.joblib plus the serving code."""

from __future__ import annotations

import joblib
import pandas as pd
import pytest
from conftest import SCRIPTS, load_script, run_script

train = load_script("training/train.py")


def test_model_and_serving_code_land_in_the_model_dir(step_run):
    model_dir = step_run["model_dir"]
    assert sorted(p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if p.is_file()) == [
        "code/features.py",
        "code/inference.py",
        "model.joblib",
    ]
    for name in ("features.py", "inference.py"):
        assert (model_dir / "code" / name).read_bytes() == (SCRIPTS / "training" / name).read_bytes()


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
    assert model.named_steps["model"].C == 0.5
    assert model.named_steps["model"].max_iter == 200
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
        train.build_model("binary_classification", 0.0, 100)
    with pytest.raises(ValueError, match="max_iter must be >= 1"):
        train.build_model("regression", 1.0, 0)
    with pytest.raises(ValueError, match="problem type must be one of"):
        train.build_model("auto", 1.0, 100)


def test_the_problem_type_preprocess_decided_picks_the_estimator(step_run, multiclass_run, regression_run):
    binary, multiclass, regression = (
        joblib.load(run["model_dir"] / "model.joblib") for run in (step_run, multiclass_run, regression_run)
    )
    assert list(binary.classes_) == [0, 1]
    assert list(multiclass.classes_) == [0, 1, 2]
    assert not hasattr(regression, "predict_proba")
    validation = pd.read_csv(regression_run["splits"] / "validation" / "validation.csv")
    predicted = regression.predict(validation.drop(columns=["target"]))
    assert predicted.dtype.kind == "f" and len(set(predicted.round(3))) > 10  # numbers, not classes


def test_regularisation_is_the_inverse_of_c_for_a_regression(regression_run, tmp_path):
    train.train(regression_run["splits"] / "train", tmp_path / "model", c=0.25)
    assert joblib.load(tmp_path / "model" / "model.joblib").named_steps["model"].alpha == pytest.approx(4.0)


def test_train_split_without_dataset_description_is_named(step_run, tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "train.csv").write_bytes((step_run["splits"] / "train" / "train.csv").read_bytes())
    with pytest.raises(FileNotFoundError, match=r"dataset\.json from the preprocess step's 'train' output"):
        train.train(tmp_path / "train", tmp_path / "model")


def test_missing_train_split_names_the_expected_file(tmp_path):
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "dataset.json").write_text('{"problem_type": "regression"}')
    with pytest.raises(FileNotFoundError, match=r"train\.csv from the preprocess step's 'train' output"):
        train.train(tmp_path / "nothing", tmp_path / "model")


def test_wrong_target_column_is_named(step_run, tmp_path):
    with pytest.raises(ValueError, match="has no 'label' column"):
        train.train(step_run["splits"] / "train", tmp_path / "model", target_column="label")
