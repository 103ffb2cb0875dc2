"""Split a labelled CSV (header row, target first) into headerless train/validation/test CSVs.

The shape of the abalone seed's preprocess step: the target is the first column of every split,
as SageMaker's built-in algorithms and the scikit-learn scripts here read it.
"""

import argparse
import pathlib

import numpy as np
import pandas as pd

BASE = pathlib.Path("/opt/ml/processing")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    frames = [pd.read_csv(path) for path in sorted((BASE / "input").glob("*.csv"))]
    if not frames:
        raise SystemExit(f"no CSV under {BASE / 'input'}")
    data = pd.concat(frames, ignore_index=True)
    if "target" not in data.columns:
        raise SystemExit(f"the data has no 'target' column (columns: {list(data.columns)})")
    data = data[["target"] + [c for c in data.columns if c != "target"]]
    shuffled = data.sample(frac=1.0, random_state=np.random.RandomState(args.seed))
    n = len(shuffled)
    cuts = [0, int(0.7 * n), int(0.85 * n), n]
    for index, name in enumerate(("train", "validation", "test")):
        part = shuffled.iloc[cuts[index] : cuts[index + 1]]
        out = BASE / name
        out.mkdir(parents=True, exist_ok=True)
        part.to_csv(out / f"{name}.csv", header=False, index=False)
        print(f"{name}: {len(part)} rows")


if __name__ == "__main__":
    main()
