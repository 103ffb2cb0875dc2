"""Preprocess step: validate the input CSV, then split it into train/validation/test.

Runs inside the scikit-learn processing container as
`python3 /opt/ml/processing/input/code/preprocess.py [--target-column target] ...`.
It is one self-contained file because the processing job uploads only this script.

Reads exactly one CSV from `--input-dir` (default /opt/ml/processing/input/data) and writes
`train/train.csv`, `validation/validation.csv` and `test/test.csv` under `--output-dir`
(default /opt/ml/processing), each with a header row and the target column first. The split
is stratified and seeded, so the same input always gives the same files.

Bad data stops the job with a message naming the problem and the fix; the message is also
written to /opt/ml/output/message, which SageMaker reports as the job's ExitMessage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

DEFAULT_INPUT_DIR = "/opt/ml/processing/input/data"
DEFAULT_OUTPUT_DIR = "/opt/ml/processing"
DEFAULT_MESSAGE_FILE = "/opt/ml/output/message"
SPLITS = ("train", "validation", "test")


class DataValidationError(ValueError):
    """The input data cannot be used for training; the message says why and what to do."""


def find_input_csv(input_dir: Path) -> Path:
    """Return the single CSV file under input_dir (SageMaker copies the S3 object there)."""
    if not input_dir.is_dir():
        raise DataValidationError(
            f"input directory {input_dir} does not exist: check that InputDataUrl points at "
            "an existing S3 object"
        )
    csv_files = sorted(p for p in input_dir.rglob("*") if p.is_file() and p.suffix == ".csv")
    if not csv_files:
        found = sorted(p.name for p in input_dir.rglob("*") if p.is_file())
        raise DataValidationError(
            f"no .csv file found in {input_dir} (found: {found or 'nothing'}): "
            "set InputDataUrl to the S3 URI of a CSV file"
        )
    if len(csv_files) > 1:
        names = [str(p.relative_to(input_dir)) for p in csv_files]
        raise DataValidationError(
            f"found {len(csv_files)} CSV files in {input_dir} ({names}): "
            "set InputDataUrl to the S3 URI of exactly one CSV file"
        )
    return csv_files[0]


def read_csv(path: Path) -> pd.DataFrame:
    """Read the CSV, turning pandas' errors for empty files into a clear message."""
    if path.stat().st_size == 0:
        raise DataValidationError(
            f"input file {path.name} is empty: upload a CSV with a header row and data rows"
        )
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError as err:
        raise DataValidationError(f"input file {path.name} holds no CSV data: {err}") from err
    except pd.errors.ParserError as err:
        raise DataValidationError(f"input file {path.name} is not valid CSV: {err}") from err
    if frame.empty:
        raise DataValidationError(
            f"input file {path.name} has a header but no data rows: add at least one row per class"
        )
    return frame


def validate(frame: pd.DataFrame, target_column: str) -> pd.DataFrame:
    """Check the frame is trainable and return it with the target first, as integers."""
    if target_column not in frame.columns:
        raise DataValidationError(
            f"target column '{target_column}' not found; the CSV has columns "
            f"{list(frame.columns)[:10]}{'...' if frame.shape[1] > 10 else ''}: "
            "set the TargetColumn pipeline parameter to the label column's name"
        )
    features = frame.drop(columns=[target_column])
    if features.shape[1] == 0:
        raise DataValidationError("the CSV has no feature columns besides the target column")

    non_numeric = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if non_numeric:
        column = non_numeric[0]
        numbers = pd.to_numeric(features[column], errors="coerce")
        bad = features[column][numbers.isna() & features[column].notna()]
        example = repr(bad.iloc[0]) if len(bad) else "an empty value"
        raise DataValidationError(
            f"feature columns must be numeric, but {non_numeric} are not "
            f"(column '{column}' holds {example}): encode or drop those columns"
        )
    missing = [c for c in features.columns if features[c].isna().any()]
    if missing:
        raise DataValidationError(f"feature columns {missing} have missing values: fill or drop those rows")

    target = frame[target_column]
    if target.isna().any():
        raise DataValidationError(
            f"target column '{target_column}' has {int(target.isna().sum())} empty values: "
            "every row needs a label"
        )
    numeric_target = pd.to_numeric(target, errors="coerce")
    if numeric_target.isna().any() or (numeric_target % 1 != 0).any():
        example = target[numeric_target.isna() | (numeric_target % 1 != 0)].iloc[0]
        raise DataValidationError(
            f"target column '{target_column}' must hold integer class labels such as 0 and 1, "
            f"found {example!r}: encode the classes as integers"
        )
    classes = numeric_target.astype(int).value_counts()
    if len(classes) < 2:
        raise DataValidationError(
            f"target column '{target_column}' has a single class ({classes.index[0]}): "
            "a classifier needs at least two classes"
        )
    return pd.concat([numeric_target.astype(int).rename(target_column), features], axis=1)


def split(
    frame: pd.DataFrame, target_column: str, validation_fraction: float, test_fraction: float, seed: int
) -> dict[str, pd.DataFrame]:
    """Stratified, seeded train/validation/test split."""
    if not (
        0 < validation_fraction < 1 and 0 < test_fraction < 1 and validation_fraction + test_fraction < 1
    ):
        raise DataValidationError(
            f"validation fraction {validation_fraction} and test fraction {test_fraction} must each "
            "be between 0 and 1 and sum to less than 1"
        )
    counts = frame[target_column].value_counts()
    smallest_needed = 3  # one row per split at the very least
    if counts.min() < smallest_needed:
        raise DataValidationError(
            f"class {counts.idxmin()} has only {counts.min()} row(s); each class needs at least "
            f"{smallest_needed} rows to appear in train, validation and test: add data"
        )
    held_out = validation_fraction + test_fraction
    try:
        train, rest = train_test_split(
            frame, test_size=held_out, stratify=frame[target_column], random_state=seed
        )
        validation, test = train_test_split(
            rest, test_size=test_fraction / held_out, stratify=rest[target_column], random_state=seed
        )
    except ValueError as err:
        raise DataValidationError(f"cannot split {len(frame)} rows by class: {err}: add data") from err
    return {"train": train, "validation": validation, "test": test}


def write_splits(splits: dict[str, pd.DataFrame], output_dir: Path) -> dict[str, Path]:
    """Write each split as <output_dir>/<name>/<name>.csv with a header row."""
    written = {}
    for name in SPLITS:
        path = output_dir / name / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        splits[name].to_csv(path, index=False)
        written[name] = path
    return written


def preprocess(
    input_dir: Path,
    output_dir: Path,
    target_column: str = "target",
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 42,
) -> dict[str, Path]:
    """Validate the CSV in input_dir and write the three splits; return their paths."""
    source = find_input_csv(Path(input_dir))
    frame = validate(read_csv(source), target_column)
    splits = split(frame, target_column, validation_fraction, test_fraction, seed)
    written = write_splits(splits, Path(output_dir))
    for name, path in written.items():
        print(f"{name}: {len(splits[name])} rows -> {path}")
    return written


def write_message(message_file: Path, message: str) -> None:
    """Best effort: SageMaker shows this file's first 1 KB as the job's ExitMessage."""
    try:
        message_file.parent.mkdir(parents=True, exist_ok=True)
        message_file.write_text(message[:1024], encoding="utf-8")
    except OSError:
        pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Validate and split the training CSV.")
    parser.add_argument("--input-dir", type=Path, default=Path(DEFAULT_INPUT_DIR))
    parser.add_argument("--output-dir", type=Path, default=Path(DEFAULT_OUTPUT_DIR))
    parser.add_argument("--target-column", default="target")
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--message-file", type=Path, default=Path(DEFAULT_MESSAGE_FILE))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        preprocess(
            args.input_dir,
            args.output_dir,
            args.target_column,
            args.validation_fraction,
            args.test_fraction,
            args.seed,
        )
    except DataValidationError as err:
        message = f"Preprocess failed: {err}"
        print(message, file=sys.stderr)
        write_message(args.message_file, message)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
