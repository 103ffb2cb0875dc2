"""A FrameworkProcessor script: its source_dir carries a requirements.txt that runproc.sh installs.

Splits the data as preprocess.py does and writes a plain-text summary of each split with tabulate,
a package the image does not have: the step fails with ModuleNotFoundError unless the install ran.
"""

import pathlib

import pandas as pd
from tabulate import tabulate

BASE = pathlib.Path("/opt/ml/processing")


def main() -> None:
    data = pd.concat(pd.read_csv(p) for p in sorted((BASE / "input").glob("*.csv")))
    data = data[["target"] + [c for c in data.columns if c != "target"]].sample(frac=1.0, random_state=3)
    n = len(data)
    splits = {"train": data.iloc[: int(0.8 * n)], "test": data.iloc[int(0.8 * n) :]}
    rows = []
    for name, part in splits.items():
        out = BASE / name
        out.mkdir(parents=True, exist_ok=True)
        part.to_csv(out / f"{name}.csv", header=False, index=False)
        rows.append([name, len(part), part["target"].nunique()])
    report = BASE / "report"
    report.mkdir(parents=True, exist_ok=True)
    (report / "summary.txt").write_text(tabulate(rows, headers=["split", "rows", "classes"]) + "\n")


if __name__ == "__main__":
    main()
