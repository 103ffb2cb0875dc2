"""Feature transformations: the first step of the fitted model, so the endpoint runs them too.

train.py puts `build_features()` in front of the estimator inside one scikit-learn Pipeline and
saves that Pipeline as model.joblib. The endpoint (inference.py) and the Evaluate step load the
same object, so whatever is written here is applied to raw rows at serving time exactly as in
training. Do feature engineering here, not in preprocess.py: Preprocess only runs before
training, while requests reach the endpoint as raw rows in the training CSV's column order.

This file is copied into the model archive next to inference.py (code/features.py), so a
function defined here and used in a FunctionTransformer can be unpickled where the model is
served. Functions defined in train.py cannot: train.py is not part of the model.
"""

from __future__ import annotations

from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def build_features() -> Pipeline:
    """The transformations fitted on the training rows and applied to every row the model sees.

    Each step receives the previous step's output; the first receives a DataFrame with the
    training CSV's feature columns (by name), in training column order.
    """
    return Pipeline([("scale", StandardScaler())])
