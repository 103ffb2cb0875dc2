"""The serving script the scikit-learn container loads: only model_fn, the container's defaults do the rest."""

import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
