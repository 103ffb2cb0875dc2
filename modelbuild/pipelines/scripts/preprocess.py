"""Preprocess step: validate the input CSV, decide the problem type, split into train/validation/test.

Runs inside the scikit-learn processing container as
`python3 /opt/ml/processing/input/code/preprocess.py [--target-column target] [--problem-type auto] ...`.
It is one self-contained file because the processing job uploads only this script.

Reads exactly one CSV from `--input-dir` (default /opt/ml/processing/input/data) and writes
`train/train.csv`, `validation/validation.csv` and `test/test.csv` under `--output-dir`
(default /opt/ml/processing), each with a header row and the target column first, and next to
each a `dataset.json` that tells the later steps what was decided:
`{"problem_type": "regression", "target_column": "target", "feature_columns": [...], "classes": null}`.

The problem type is `binary_classification`, `multiclass_classification` or `regression`; with
`auto` it is inferred from the target column: integer values with at most MAX_CLASSES distinct
ones are classes, anything else numeric is a regression target. Classification splits are
stratified; every split is seeded, so the same input always gives the same files.

Bad data stops the job with a message naming the input (`--input-data-url`, the S3 object),
the problem and the fix; the message is also written to /opt/ml/output/message, which SageMaker
reports as the job's ExitMessage and the pipeline as the step's FailureReason.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

DEFAULT_INPUT_DIR = "/opt/ml/processing/input/data"
DEFAULT_OUTPUT_DIR = "/opt/ml/processing"
DEFAULT_MESSAGE_FILE = "/opt/ml/output/message"
SPLITS = ("train", "validation", "test")
DATASET_FILE = "dataset.json"
PROBLEM_TYPES = ("auto", "binary_classification", "multiclass_classification", "regression")
MAX_CLASSES = 20  # with `auto`, an integer target with more distinct values is a regression target
MIN_REGRESSION_ROWS = 20  # enough for every split to hold a few rows


class DataValidationError(ValueError):
    """The input data cannot be used for training; the message says why and what to do."""


def find_input_csv(input_dir: Path, source: str) -> Path:
    """Return the single CSV file under input_dir (SageMaker copies the S3 object there)."""
    if not input_dir.is_dir():
        raise DataValidationError(
            f"{source}: nothing was downloaded to {input_dir}: check that InputDataUrl points at an existing S3 object"
        )
    csv_files = sorted(p for p in input_dir.rglob("*") if p.is_file() and p.suffix.lower() == ".csv")
    if not csv_files:
        found = sorted(p.name for p in input_dir.rglob("*") if p.is_file())
        raise DataValidationError(
            f"{source}: no .csv file found (found: {found or 'nothing'}): set InputDataUrl to the S3 URI of a CSV file"
        )
    if len(csv_files) > 1:
        names = [str(p.relative_to(input_dir)) for p in csv_files]
        raise DataValidationError(
            f"{source}: found {len(csv_files)} CSV files ({names}): "
            "set InputDataUrl to the S3 URI of exactly one CSV file"
        )
    return csv_files[0]


def read_csv(path: Path, source: str) -> pd.DataFrame:
    """Read the CSV, turning pandas' errors into a message that names the input and the fix."""
    if path.stat().st_size == 0:
        raise DataValidationError(f"{source} is empty (0 bytes): upload a CSV with a header row and data rows")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError as err:
        raise DataValidationError(f"{source} holds no CSV data ({err}): upload a CSV with a header row") from err
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataValidationError(f"{source} is not a readable UTF-8 CSV file: {err}") from err
    if frame.empty:
        raise DataValidationError(f"{source} has a header but no data rows: add data rows below the header")
    return frame


def check_features(features: pd.DataFrame, source: str) -> None:
    """Every feature must be a number in every row."""
    if features.shape[1] == 0:
        raise DataValidationError(f"{source} has no feature columns besides the target column")
    non_numeric = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if non_numeric:
        column = non_numeric[0]
        numbers = pd.to_numeric(features[column], errors="coerce")
        bad = features[column][numbers.isna() & features[column].notna()]
        example = repr(bad.iloc[0]) if len(bad) else "an empty value"
        raise DataValidationError(
            f"{source}: feature columns must be numeric, but {non_numeric} are not "
            f"(column '{column}' holds {example}): encode or drop those columns"
        )
    missing = [c for c in features.columns if features[c].isna().any()]
    if missing:
        raise DataValidationError(f"{source}: feature columns {missing} have missing values: fill or drop those rows")


def resolve_problem_type(target: pd.Series, requested: str, source: str) -> str:
    """The problem type the target supports; `auto` picks it, an explicit one is checked."""
    column = target.name
    if requested not in PROBLEM_TYPES:
        raise DataValidationError(f"ProblemType must be one of {list(PROBLEM_TYPES)}, got {requested!r}")
    numbers = pd.to_numeric(target, errors="coerce")
    if numbers.isna().any():
        example = target[numbers.isna()].iloc[0]
        raise DataValidationError(
            f"{source}: target column '{column}' must be numeric (integer class labels such as 0 and 1, "
            f"or numbers to predict), found {example!r}: encode the classes as integers"
        )
    distinct = int(numbers.nunique())
    integral = bool((numbers % 1 == 0).all())
    if distinct < 2:
        raise DataValidationError(
            f"{source}: target column '{column}' has a single value ({numbers.iloc[0]:g}): "
            "a model needs at least two classes or varying values to learn from"
        )
    if requested == "auto":
        if integral and distinct <= MAX_CLASSES:
            return "binary_classification" if distinct == 2 else "multiclass_classification"
        return "regression"
    if requested != "regression" and not integral:
        example = target[numbers % 1 != 0].iloc[0]
        raise DataValidationError(
            f"{source}: ProblemType {requested} needs integer class labels in '{column}', found {example!r}: "
            "encode the classes as integers, or set ProblemType to regression or auto"
        )
    if requested == "binary_classification" and distinct != 2:
        raise DataValidationError(
            f"{source}: ProblemType binary_classification needs exactly 2 classes in '{column}', found {distinct}: "
            "set ProblemType to multiclass_classification or auto"
        )
    if requested == "multiclass_classification" and distinct < 3:
        raise DataValidationError(
            f"{source}: ProblemType multiclass_classification needs at least 3 classes in '{column}', found "
            f"{distinct}: set ProblemType to binary_classification or auto"
        )
    return requested


def validate(frame: pd.DataFrame, target_column: str, problem_type: str, source: str) -> tuple[pd.DataFrame, str]:
    """Check the frame is trainable; return it with the target first (integers for classes) and the type."""
    if target_column not in frame.columns:
        raise DataValidationError(
            f"{source}: target column '{target_column}' not found; the CSV has columns "
            f"{list(frame.columns)[:10]}{'...' if frame.shape[1] > 10 else ''}: "
            "set the TargetColumn pipeline parameter to the label column's name"
        )
    features = frame.drop(columns=[target_column])
    check_features(features, source)
    target = frame[target_column]
    if target.isna().any():
        raise DataValidationError(
            f"{source}: target column '{target_column}' has {int(target.isna().sum())} empty values: "
            "every row needs a target value"
        )
    resolved = resolve_problem_type(target, problem_type, source)
    numbers = pd.to_numeric(target)
    numbers = numbers.astype(float) if resolved == "regression" else numbers.astype(int)
    return pd.concat([numbers.rename(target_column), features], axis=1), resolved


def split(
    frame: pd.DataFrame,
    target_column: str,
    problem_type: str,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
    source: str = "the input",
) -> dict[str, pd.DataFrame]:
    """Seeded train/validation/test split, stratified by class for classification."""
    if not (0 < validation_fraction < 1 and 0 < test_fraction < 1 and validation_fraction + test_fraction < 1):
        raise DataValidationError(
            f"validation fraction {validation_fraction} and test fraction {test_fraction} must each "
            "be between 0 and 1 and sum to less than 1"
        )
    stratify = problem_type != "regression"
    if stratify:
        counts = frame[target_column].value_counts()
        smallest_needed = 3  # one row per split at the very least
        if counts.min() < smallest_needed:
            raise DataValidationError(
                f"{source}: class {counts.idxmin()} has only {counts.min()} row(s); each class needs at least "
                f"{smallest_needed} rows to appear in train, validation and test: add data"
            )
    elif len(frame) < MIN_REGRESSION_ROWS:
        raise DataValidationError(
            f"{source} has {len(frame)} rows; a regression needs at least {MIN_REGRESSION_ROWS}: add data"
        )
    held_out = validation_fraction + test_fraction
    try:
        train, rest = train_test_split(
            frame, test_size=held_out, stratify=frame[target_column] if stratify else None, random_state=seed
        )
        validation, test = train_test_split(
            rest,
            test_size=test_fraction / held_out,
            stratify=rest[target_column] if stratify else None,
            random_state=seed,
        )
    except ValueError as err:
        raise DataValidationError(f"{source}: cannot split {len(frame)} rows by class: {err}: add data") from err
    return {"train": train, "validation": validation, "test": test}


def dataset_description(frame: pd.DataFrame, target_column: str, problem_type: str) -> dict:
    """What the later steps need to know about the data: dataset.json."""
    classes = None if problem_type == "regression" else sorted(int(c) for c in frame[target_column].unique())
    return {
        "problem_type": problem_type,
        "target_column": target_column,
        "feature_columns": [c for c in frame.columns if c != target_column],
        "classes": classes,
    }


def write_splits(splits: dict[str, pd.DataFrame], description: dict, output_dir: Path) -> dict[str, Path]:
    """Write each split as <output_dir>/<name>/<name>.csv with a header row, and dataset.json beside it."""
    written = {}
    for name in SPLITS:
        path = output_dir / name / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        splits[name].to_csv(path, index=False)
        (path.parent / DATASET_FILE).write_text(json.dumps(description, indent=2))
        written[name] = path
    return written


def preprocess(
    input_dir: Path,
    output_dir: Path,
    target_column: str = "target",
    problem_type: str = "auto",
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 42,
    source: str | None = None,
) -> dict[str, Path]:
    """Validate the CSV in input_dir and write the three splits; return their paths.

    `source` names the input in messages (the pipeline passes the S3 URI it read).
    """
    path = find_input_csv(Path(input_dir), source or str(input_dir))
    source = source or path.name
    frame, resolved = validate(read_csv(path, source), target_column, problem_type, source)
    splits = split(frame, target_column, resolved, validation_fraction, test_fraction, seed, source)
    written = write_splits(splits, dataset_description(frame, target_column, resolved), Path(output_dir))
    print(f"{source}: {len(frame)} rows, problem type {resolved}")
    for name, out in written.items():
        print(f"{name}: {len(splits[name])} rows -> {out}")
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
    parser.add_argument("--input-data-url", default=None, help="where the input came from, named in messages")
    parser.add_argument("--output-dir", type=Path, default=Path(DEFAULT_OUTPUT_DIR))
    parser.add_argument("--target-column", default="target")
    parser.add_argument("--problem-type", default="auto", choices=PROBLEM_TYPES)
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
            args.problem_type,
            args.validation_fraction,
            args.test_fraction,
            args.seed,
            source=args.input_data_url,
        )
    except DataValidationError as err:
        message = f"Preprocess failed: {err}"
        print(message, file=sys.stderr)
        write_message(args.message_file, message)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
