"""Preprocess script: bad data named with its source, the problem type, the deterministic split."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from conftest import SHIPPED_CSV, load_script, run_script, sklearn_dataset

preprocess = load_script("preprocess.py")


@pytest.fixture
def input_dir(tmp_path):
    path = tmp_path / "input" / "data"
    path.mkdir(parents=True)
    return path


def write_csv(directory, text: str, name: str = "data.csv"):
    (directory / name).write_text(text)
    return directory / name


def small_frame(rows: int = 30) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label": [i % 2 for i in range(rows)],
            "a": [float(i) for i in range(rows)],
            "b": [float(i * i % 7) for i in range(rows)],
        }
    )


def test_shipped_data_splits_into_three_stratified_files_with_target_first(input_dir, tmp_path):
    shutil.copy(SHIPPED_CSV, input_dir)
    written = preprocess.preprocess(input_dir, tmp_path / "out")
    original = pd.read_csv(SHIPPED_CSV)
    frames = {name: pd.read_csv(path) for name, path in written.items()}
    assert {name: path.relative_to(tmp_path / "out").as_posix() for name, path in written.items()} == {
        "train": "train/train.csv",
        "validation": "validation/validation.csv",
        "test": "test/test.csv",
    }
    assert sum(len(f) for f in frames.values()) == len(original) == 569
    assert len(frames["test"]) == pytest.approx(0.15 * 569, abs=2)
    for frame in frames.values():
        assert list(frame.columns) == list(original.columns)  # header kept, target first
        assert frame["target"].mean() == pytest.approx(original["target"].mean(), abs=0.03)
    together = pd.concat(frames.values()).sort_values(list(original.columns)).reset_index(drop=True)
    expected = original.sort_values(list(original.columns)).reset_index(drop=True)
    pd.testing.assert_frame_equal(together, expected)  # disjoint and complete


def test_split_is_deterministic(input_dir, tmp_path):
    shutil.copy(SHIPPED_CSV, input_dir)
    first = preprocess.preprocess(input_dir, tmp_path / "one")
    second = preprocess.preprocess(input_dir, tmp_path / "two")
    for name in first:
        assert first[name].read_bytes() == second[name].read_bytes()


def test_target_column_is_moved_first(input_dir, tmp_path):
    frame = small_frame()[["a", "label", "b"]]
    frame.to_csv(input_dir / "d.csv", index=False)
    written = preprocess.preprocess(input_dir, tmp_path / "out", target_column="label")
    assert list(pd.read_csv(written["train"]).columns) == ["label", "a", "b"]


def test_runs_as_a_script_with_container_style_arguments(input_dir, tmp_path):
    shutil.copy(SHIPPED_CSV, input_dir)
    result = run_script(
        "preprocess.py",
        "--input-dir",
        str(input_dir),
        "--output-dir",
        str(tmp_path / "out"),
        "--target-column",
        "target",
        "--problem-type",
        "binary_classification",
    )
    assert result.returncode == 0, result.stderr
    for name in ("train", "validation", "test"):
        assert (tmp_path / "out" / name / f"{name}.csv").is_file()
        assert (tmp_path / "out" / name / "dataset.json").is_file()


def test_defaults_are_sagemaker_processing_paths():
    args = preprocess.parse_args([])
    assert str(args.input_dir) == "/opt/ml/processing/input/data"
    assert str(args.output_dir) == "/opt/ml/processing"
    assert str(args.message_file) == "/opt/ml/output/message"


SOURCE = "s3://sagemaker-project-p-1/data/landed.csv"


@pytest.mark.parametrize(
    ("text", "target", "expected"),
    [
        ("", "target", f"{SOURCE} is empty (0 bytes)"),
        ("\n\n", "target", f"{SOURCE} holds no CSV data"),
        ("target,a\n", "target", f"{SOURCE} has a header but no data rows"),
        ('target,a\n0,"1\n', "target", f"{SOURCE} is not a readable UTF-8 CSV file"),
        ("a,b\n1,2\n3,4\n", "target", f"{SOURCE}: target column 'target' not found"),
        (
            "target,a,b\n0,1,x\n1,2,3\n0,1,2\n1,4,5\n",
            "target",
            "numeric, but ['b'] are not (column 'b' holds 'x')",
        ),
        ("target,a\n" + "1,0.5\n" * 10, "target", "has a single value (1)"),
        ("target,a\nyes,1\nno,2\nyes,3\nno,4\n", "target", "must be numeric (integer class labels"),
        ("target,a\n0,1\n1,\n0,2\n1,3\n", "target", "feature columns ['a'] have missing values"),
        ("target,a\n" + "0,1\n" * 10 + "1,2\n", "target", "class 1 has only 1 row(s)"),
        ("target,a\n" + "".join(f"{i}.5,{i}\n" for i in range(10)), "target", "a regression needs at least 20"),
    ],
    ids=[
        "empty",
        "blank-lines",
        "header-only",
        "unterminated-quote",
        "missing-target",
        "non-numeric",
        "single-value",
        "string-labels",
        "missing-values",
        "tiny-class",
        "tiny-regression",
    ],
)
def test_bad_data_is_rejected_naming_the_object_and_the_problem(input_dir, tmp_path, text, target, expected):
    write_csv(input_dir, text)
    with pytest.raises(preprocess.DataValidationError) as error:
        preprocess.preprocess(input_dir, tmp_path / "out", target_column=target, source=SOURCE)
    assert expected in str(error.value)
    assert SOURCE in str(error.value)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_undecodable_bytes_are_rejected(input_dir, tmp_path):
    (input_dir / "data.csv").write_bytes(b"target,a\n0,\xff\xfe\x00\x81\n")
    with pytest.raises(preprocess.DataValidationError, match="is not a readable UTF-8 CSV file"):
        preprocess.preprocess(input_dir, tmp_path / "out", source=SOURCE)


@pytest.mark.parametrize(
    ("dataset", "expected"),
    [("shipped", "binary_classification"), ("wine", "multiclass_classification"), ("diabetes", "regression")],
)
def test_auto_infers_the_problem_type_from_the_target(input_dir, tmp_path, dataset, expected):
    if dataset == "shipped":
        shutil.copy(SHIPPED_CSV, input_dir)
    else:
        sklearn_dataset(dataset).to_csv(input_dir / f"{dataset}.csv", index=False)
    written = preprocess.preprocess(input_dir, tmp_path / "out")
    for path in written.values():
        description = json.loads((path.parent / "dataset.json").read_text())
        assert description["problem_type"] == expected
        assert description["feature_columns"] == list(pd.read_csv(path).columns[1:])
        assert (description["classes"] is None) == (expected == "regression")


def test_integer_target_with_many_values_is_a_regression(input_dir, tmp_path):
    rows = preprocess.MAX_CLASSES + 1
    frame = pd.DataFrame({"target": [i % rows for i in range(rows * 3)], "x": [float(i) for i in range(rows * 3)]})
    frame.to_csv(input_dir / "d.csv", index=False)
    written = preprocess.preprocess(input_dir, tmp_path / "out")
    assert json.loads((written["train"].parent / "dataset.json").read_text())["problem_type"] == "regression"


def test_regression_split_keeps_float_targets_and_all_rows(input_dir, tmp_path):
    frame = sklearn_dataset("diabetes")
    frame["target"] = frame["target"] + 0.25
    frame.to_csv(input_dir / "d.csv", index=False)
    written = preprocess.preprocess(input_dir, tmp_path / "out")
    together = pd.concat(pd.read_csv(path) for path in written.values())
    assert len(together) == len(frame)
    assert sorted(together["target"]) == pytest.approx(sorted(frame["target"]))


@pytest.mark.parametrize(
    ("requested", "dataset", "expected"),
    [
        ("binary_classification", "wine", "needs exactly 2 classes"),
        ("multiclass_classification", "shipped", "needs at least 3 classes"),
        ("binary_classification", "float", "needs integer class labels"),
    ],
)
def test_an_explicit_problem_type_the_target_cannot_have_is_refused(input_dir, tmp_path, requested, dataset, expected):
    if dataset == "shipped":
        shutil.copy(SHIPPED_CSV, input_dir)
    elif dataset == "float":
        pd.DataFrame({"target": [0.5, 1.5] * 15, "x": range(30)}).to_csv(input_dir / "d.csv", index=False)
    else:
        sklearn_dataset(dataset).to_csv(input_dir / "d.csv", index=False)
    with pytest.raises(preprocess.DataValidationError, match=expected):
        preprocess.preprocess(input_dir, tmp_path / "out", problem_type=requested)


def test_classes_can_be_treated_as_a_regression_target(input_dir, tmp_path):
    shutil.copy(SHIPPED_CSV, input_dir)
    written = preprocess.preprocess(input_dir, tmp_path / "out", problem_type="regression")
    assert json.loads((written["test"].parent / "dataset.json").read_text())["problem_type"] == "regression"


def test_missing_or_ambiguous_input_file_is_rejected(input_dir, tmp_path):
    with pytest.raises(preprocess.DataValidationError, match="no .csv file found"):
        preprocess.preprocess(input_dir, tmp_path / "out")
    write_csv(input_dir, "target,a\n0,1\n", "one.csv")
    write_csv(input_dir, "target,a\n0,1\n", "two.csv")
    with pytest.raises(preprocess.DataValidationError, match="found 2 CSV files"):
        preprocess.preprocess(input_dir, tmp_path / "out")


def test_script_failure_exits_non_zero_and_leaves_exit_message_naming_the_object(input_dir, tmp_path, capsys):
    write_csv(input_dir, "")
    message_file = tmp_path / "output" / "message"
    code = preprocess.main(
        [
            "--input-dir",
            str(input_dir),
            "--input-data-url",
            SOURCE,
            "--output-dir",
            str(tmp_path / "out"),
            "--message-file",
            str(message_file),
        ]
    )
    assert code == 1
    assert f"Preprocess failed: {SOURCE} is empty" in capsys.readouterr().err
    assert message_file.read_text().startswith(f"Preprocess failed: {SOURCE} is empty")
