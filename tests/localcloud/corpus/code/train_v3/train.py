"""ModelTrainer's training script (SDK v3 runs it through its own sm_train.sh driver, not the toolkit).

SDK v3 has no repack step, so the script ships the serving code itself: model.tar.gz gets
model.joblib and code/inference.py, which the registered package's environment names.
"""

import argparse
import os
import pathlib
import shutil

import joblib
import pandas as pd
from sklearn.ensemble import RandomForestClassifier


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n_estimators", type=int, default=50)
    parser.add_argument("--max_depth", type=int, default=4)
    args = parser.parse_args()
    train_dir = pathlib.Path(os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    frame = pd.concat(pd.read_csv(p) for p in sorted(train_dir.glob("*.csv")))
    model = RandomForestClassifier(n_estimators=args.n_estimators, max_depth=args.max_depth, random_state=0)
    model.fit(frame.drop(columns="target").to_numpy(), frame["target"].to_numpy())
    model_dir = pathlib.Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    joblib.dump(model, model_dir / "model.joblib")
    (model_dir / "code").mkdir(exist_ok=True)
    shutil.copy(pathlib.Path(__file__).with_name("inference.py"), model_dir / "code" / "inference.py")
    print(f"training accuracy: {model.score(frame.drop(columns='target').to_numpy(), frame['target'].to_numpy())}")


if __name__ == "__main__":
    main()
