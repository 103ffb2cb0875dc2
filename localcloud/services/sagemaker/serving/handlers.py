"""The scikit-learn container's handler contract: ``model_fn``, ``input_fn``, ``predict_fn``,
``output_fn`` (or one ``transform_fn``) from the user's inference script, with defaults for any it
leaves out, so a model archive that works on SageMaker works here unchanged.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
DEFAULT_MODEL_FILE = "model.joblib"


class ScriptError(RuntimeError):
    """The inference script or the model could not be loaded; the message says what to fix."""


# defaults ------------------------------------------------------------------------------------
def default_model_fn(model_dir: str) -> Any:
    """Load ``model.joblib`` from the model folder, as most scikit-learn training scripts save it."""
    path = Path(model_dir) / DEFAULT_MODEL_FILE
    if not path.is_file():
        found = sorted(p.name for p in Path(model_dir).iterdir()) if Path(model_dir).is_dir() else []
        raise ScriptError(
            f"no model_fn in the inference script and no {DEFAULT_MODEL_FILE} in {model_dir} "
            f"(found: {', '.join(found) or 'nothing'}): save the model as {DEFAULT_MODEL_FILE} "
            "or define model_fn(model_dir)"
        )
    import joblib

    return joblib.load(path)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def default_input_fn(body: bytes, content_type: str) -> np.ndarray:
    """Decode text/csv, application/json (a list of rows or ``{"instances": ...}``) or .npy."""
    media = _media_type(content_type)
    if media == CSV:
        try:
            rows = np.genfromtxt(io.StringIO(body.decode("utf-8")), delimiter=",", dtype=float, ndmin=2)
        except (UnicodeDecodeError, ValueError) as error:
            raise ValueError(f"text/csv body must be rows of numbers separated by commas: {error}") from None
        if rows.size == 0 or np.isnan(rows).any():
            raise ValueError("text/csv body must be rows of numbers only (no header, no empty values)")
        return rows
    if media == JSON:
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"application/json body is not valid JSON: {error}") from None
        if isinstance(payload, dict):
            if "instances" not in payload:
                raise ValueError('application/json body must be a list of rows or {"instances": [[...], ...]}')
            payload = payload["instances"]
        try:
            return np.asarray(payload, dtype=float).reshape(len(payload), -1)
        except (TypeError, ValueError) as error:
            raise ValueError(f"application/json body must hold rows of numbers of equal length: {error}") from None
    if media == NPY:
        return np.load(io.BytesIO(body), allow_pickle=False)
    raise ValueError(f"unsupported content type {content_type!r}: send {CSV}, {JSON} or {NPY}")


def default_predict_fn(data: Any, model: Any) -> Any:
    return model.predict(data)


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes | str, str]:
    """Encode as JSON (lists for arrays), or CSV when asked for text/csv."""
    media = _media_type(accept)
    if isinstance(prediction, np.ndarray):
        prediction = prediction.tolist()
    if media == CSV:
        rows = prediction if isinstance(prediction, list) else [prediction]
        lines = [",".join(map(str, r)) if isinstance(r, list) else str(r) for r in rows]
        return "\n".join(lines) + "\n", CSV
    if media not in (JSON, "*/*", ""):
        raise ValueError(f"unsupported accept type {accept!r}: this model answers {JSON} or {CSV}")
    return json.dumps(prediction, default=_json_default), JSON


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


# the user's script -----------------------------------------------------------------------
def load_script(submit_dir: str, program: str) -> Any:
    """Import ``program`` from ``submit_dir`` the way the container does (its folder on sys.path)."""
    script = Path(submit_dir) / program
    if not script.is_file():
        present = sorted(p.name for p in Path(submit_dir).iterdir()) if Path(submit_dir).is_dir() else []
        raise ScriptError(
            f"inference script {program!r} not found in {submit_dir} "
            f"(found: {', '.join(present) or 'nothing'}): put it under code/ in model.tar.gz "
            "and set SAGEMAKER_PROGRAM and SAGEMAKER_SUBMIT_DIRECTORY"
        )
    sys.path.insert(0, str(script.parent))
    name = script.stem
    spec = importlib.util.spec_from_file_location(name, script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise ScriptError(f"importing {program} failed: {type(error).__name__}: {error}") from error
    return module


@dataclass
class Handlers:
    """The four steps of one invocation, whichever the script defines."""

    model_fn: Callable[[str], Any]
    input_fn: Callable[[bytes, str], Any]
    predict_fn: Callable[[Any, Any], Any]
    output_fn: Callable[[Any, str], Any]
    transform_fn: Callable[[Any, bytes, str, str], Any] | None = None

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Handlers:
        """Read ``SAGEMAKER_PROGRAM``/``SAGEMAKER_SUBMIT_DIRECTORY``; no program means all defaults."""
        environ = os.environ if environ is None else environ
        program = environ.get("SAGEMAKER_PROGRAM", "").strip()
        module: Any = None
        if program:
            submit_dir = environ.get("SAGEMAKER_SUBMIT_DIRECTORY", "/opt/ml/model/code")
            module = load_script(submit_dir, program)
        return cls(
            model_fn=getattr(module, "model_fn", default_model_fn),
            input_fn=getattr(module, "input_fn", default_input_fn),
            predict_fn=getattr(module, "predict_fn", default_predict_fn),
            output_fn=getattr(module, "output_fn", default_output_fn),
            transform_fn=getattr(module, "transform_fn", None),
        )

    def invoke(self, model: Any, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """Run one request through the handlers; returns the response body and its content type."""
        if self.transform_fn is not None:
            result = self.transform_fn(model, body, content_type, accept)
        else:
            result = self.output_fn(self.predict_fn(self.input_fn(body, content_type), model), accept)
        if isinstance(result, tuple):
            data, response_type = result[0], result[1]
        else:
            data, response_type = result, accept if _media_type(accept) not in ("", "*/*") else JSON
        if isinstance(data, str):
            data = data.encode("utf-8")
        elif not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"output_fn must return str or bytes, got {type(data).__name__}")
        return bytes(data), response_type
