"""Write scikit-learn's breast cancer dataset as the CSV this repository ships.

The pipeline's default input is `data/breast_cancer.csv`. It is generated once from the copy
of the dataset bundled inside scikit-learn (no download) and committed, so every run of the
pipeline trains on exactly the same bytes. Re-run after changing the column naming:

    python data/make_dataset.py            # writes data/breast_cancer.csv
    python data/make_dataset.py --output other.csv
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_breast_cancer

TARGET_COLUMN = "target"
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "breast_cancer.csv"


def snake_case(name: str) -> str:
    """Turn a feature name such as 'mean concave points' into 'mean_concave_points'."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def build_frame() -> pd.DataFrame:
    """Return the dataset with the label first (0 = malignant, 1 = benign), then the features."""
    bunch = load_breast_cancer()
    features = pd.DataFrame(bunch.data, columns=[snake_case(n) for n in bunch.feature_names])
    frame = pd.concat([pd.Series(bunch.target, name=TARGET_COLUMN), features], axis=1)
    return frame


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    frame = build_frame()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.output, index=False)
    print(f"wrote {len(frame)} rows x {frame.shape[1]} columns to {args.output}")
    return args.output


if __name__ == "__main__":
    main()
