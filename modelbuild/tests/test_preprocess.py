"""Preprocess script: validation of bad data and the deterministic stratified split."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from conftest import SHIPPED_CSV, load_script, run_script

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
    )
    assert result.returncode == 0, result.stderr
    for name in ("train", "validation", "test"):
        assert (tmp_path / "out" / name / f"{name}.csv").is_file()


def test_defaults_are_sagemaker_processing_paths():
    args = preprocess.parse_args([])
    assert str(args.input_dir) == "/opt/ml/processing/input/data"
    assert str(args.output_dir) == "/opt/ml/processing"
    assert str(args.message_file) == "/opt/ml/output/message"


@pytest.mark.parametrize(
    ("text", "target", "expected"),
    [
        ("a,b\n1,2\n3,4\n", "target", "target column 'target' not found"),
        (
            "target,a,b\n0,1,x\n1,2,3\n0,1,2\n1,4,5\n",
            "target",
            "numeric, but ['b'] are not (column 'b' holds 'x')",
        ),
        ("target,a\n", "target", "has a header but no data rows"),
        ("target,a\n" + "1,0.5\n" * 10, "target", "has a single class (1)"),
        (
            "target,a\nyes,1\nno,2\nyes,3\nno,4\n",
            "target",
            "integer class labels such as 0 and 1, found 'yes'",
        ),
        ("target,a\n0,1\n1,\n0,2\n1,3\n", "target", "feature columns ['a'] have missing values"),
        ("target,a\n" + "0,1\n" * 10 + "1,2\n", "target", "class 1 has only 1 row(s)"),
    ],
    ids=[
        "missing-target",
        "non-numeric",
        "header-only",
        "single-class",
        "string-labels",
        "missing-values",
        "tiny-class",
    ],
)
def test_bad_data_is_rejected_with_a_message_naming_the_problem(input_dir, tmp_path, text, target, expected):
    write_csv(input_dir, text)
    with pytest.raises(preprocess.DataValidationError) as error:
        preprocess.preprocess(input_dir, tmp_path / "out", target_column=target)
    assert expected in str(error.value)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_empty_file_is_rejected(input_dir, tmp_path):
    write_csv(input_dir, "")
    with pytest.raises(preprocess.DataValidationError, match="is empty"):
        preprocess.preprocess(input_dir, tmp_path / "out")


def test_missing_or_ambiguous_input_file_is_rejected(input_dir, tmp_path):
    with pytest.raises(preprocess.DataValidationError, match="no .csv file found"):
        preprocess.preprocess(input_dir, tmp_path / "out")
    write_csv(input_dir, "target,a\n0,1\n", "one.csv")
    write_csv(input_dir, "target,a\n0,1\n", "two.csv")
    with pytest.raises(preprocess.DataValidationError, match="found 2 CSV files"):
        preprocess.preprocess(input_dir, tmp_path / "out")


def test_script_failure_exits_non_zero_and_leaves_exit_message(input_dir, tmp_path, capsys):
    write_csv(input_dir, "a,b\n1,2\n")
    message_file = tmp_path / "output" / "message"
    code = preprocess.main(
        [
            "--input-dir",
            str(input_dir),
            "--output-dir",
            str(tmp_path / "out"),
            "--message-file",
            str(message_file),
        ]
    )
    assert code == 1
    assert "target column 'target' not found" in capsys.readouterr().err
    assert "set the TargetColumn pipeline parameter" in message_file.read_text()
