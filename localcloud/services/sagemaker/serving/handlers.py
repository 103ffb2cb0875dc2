"""The scikit-learn serving container's handler contract, as its single-model server applies it.

The inference script (``SAGEMAKER_PROGRAM`` in ``SAGEMAKER_SUBMIT_DIRECTORY``) defines
``model_fn`` and either ``input_fn``/``predict_fn``/``output_fn`` or one ``transform_fn``; what it
leaves out is the container's default. Faithful to the container:

- the body reaches ``input_fn``/``transform_fn`` as ``str`` (UTF-8) when the Content-Type is exactly
  ``application/json`` or ``text/csv``, else as ``bytes``; no Content-Type means ``application/json``;
- a missing or ``*/*`` Accept is ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` (``application/json``);
- there is no default ``model_fn``: the model fails to load, saying to provide one;
- the default ``input_fn`` decodes JSON, CSV and NPY into a numpy array (float32 for the text types),
  ``predict_fn`` calls ``model.predict``, ``output_fn`` encodes JSON, CSV or NPY; a content type they
  cannot decode is 415 and an Accept they cannot encode is 406, with the container's JSON error body;
- anything a script's function raises is a 500.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
ANY = "*/*"
UTF8_TYPES = (JSON, CSV)
NO_MODEL_FN = (
    "Please provide a model_fn implementation.\n"
    "See documentation for model_fn at https://github.com/aws/sagemaker-python-sdk"
)


class ScriptError(RuntimeError):
    """The inference script or the model could not be loaded; the message says what to fix."""


class UnsupportedFormatError(Exception):
    """A content type the default handlers cannot decode, or an Accept they cannot encode."""

    def __init__(self, content_type: str):
        self.content_type = content_type
        super().__init__(
            f"Content type {content_type} is not supported by this framework.\n\n"
            "Please implement input_fn to to deserialize the request data or an output_fn to\n"
            "serialize the response. For more information, see the SageMaker Python SDK README."
        )


class InvocationError(Exception):
    """An answer other than 200 that the container gives itself (415, 406), with its JSON body."""

    def __init__(self, status: int, error: Exception):
        self.status = status
        body = {"error": type(error).__name__, "error-message": str(error), "stack-trace": traceback.format_exc()}
        self.body = json.dumps(body).encode()
        super().__init__(str(error))


# decoding and encoding, as the container's encoders do -----------------------------------------
def request_content(body: bytes, content_type: str) -> str | bytes:
    """What the handlers get: text for exactly the UTF-8 types (undecodable bytes replaced), else bytes."""
    return body.decode("utf-8", errors="replace") if content_type in UTF8_TYPES else body


def _csv_to_numpy(text: str) -> np.ndarray:
    rows = list(csv.reader(io.StringIO(text), delimiter=",", quotechar='"', doublequote=True, strict=True))
    return np.array(rows).squeeze()


def _npy_to_numpy(data: bytes | str) -> np.ndarray:
    raw = data.encode("latin-1") if isinstance(data, str) else data
    return np.load(io.BytesIO(raw), allow_pickle=False)


DECODERS: dict[str, Callable[[Any], np.ndarray]] = {
    JSON: lambda text: np.array(json.loads(text)),
    CSV: _csv_to_numpy,
    NPY: _npy_to_numpy,
}


def decode(content: str | bytes, content_type: str) -> np.ndarray:
    try:
        decoder = DECODERS[content_type]
    except KeyError:
        raise UnsupportedFormatError(content_type) from None
    return decoder(content)


def _to_json(prediction: Any) -> str:
    return json.dumps(prediction, default=lambda value: value.tolist() if hasattr(value, "tolist") else str(value))


def _to_csv(prediction: Any) -> str:
    array = np.array(prediction)
    if array.ndim == 1:
        array = array.reshape(array.shape[0], 1)
    stream = io.StringIO()
    csv.writer(stream, lineterminator="\n", delimiter=",", quotechar='"', doublequote=True, strict=True).writerows(
        array
    )
    return stream.getvalue()


def _to_npy(prediction: Any) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, prediction)
    return buffer.getvalue()


ENCODERS: dict[str, Callable[[Any], str | bytes]] = {JSON: _to_json, CSV: _to_csv, NPY: _to_npy}


def encode(prediction: Any, accept: str) -> str | bytes:
    try:
        encoder = ENCODERS[accept]
    except KeyError:
        raise UnsupportedFormatError(accept) from None
    return encoder(prediction)


def response_type(mimetype: str) -> str:
    """The Content-Type the container's web framework sends for a mimetype: text types name their charset."""
    if mimetype.startswith("text/") and "charset" not in mimetype:
        return f"{mimetype}; charset=utf-8"
    return mimetype


# the container's defaults -----------------------------------------------------------------
def default_model_fn(model_dir: str) -> Any:
    """The container has none: a script must load its model."""
    raise NotImplementedError(NO_MODEL_FN)


def default_input_fn(input_data: str | bytes, content_type: str) -> np.ndarray:
    array = decode(input_data, content_type)
    return array.astype(np.float32) if content_type in UTF8_TYPES else array


def default_predict_fn(data: Any, model: Any) -> Any:
    return model.predict(data)


def default_output_fn(prediction: Any, accept: str) -> tuple[str | bytes, str]:
    return encode(prediction, accept), accept


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
    input_fn: Callable[[Any, str], Any]
    predict_fn: Callable[[Any, Any], Any]
    output_fn: Callable[[Any, str], Any]
    transform_fn: Callable[[Any, Any, str, str], Any] | None = None

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Handlers:
        """Read ``SAGEMAKER_PROGRAM``/``SAGEMAKER_SUBMIT_DIRECTORY`` and import the script."""
        environ = os.environ if environ is None else environ
        program = environ.get("SAGEMAKER_PROGRAM", "").strip()
        if not program:
            raise ScriptError(
                "SAGEMAKER_PROGRAM is not set: the scikit-learn container serves a model through an inference "
                "script that defines model_fn; name it in the model's Environment (with SAGEMAKER_SUBMIT_DIRECTORY)"
            )
        module = load_script(environ.get("SAGEMAKER_SUBMIT_DIRECTORY", "/opt/ml/model/code"), program)
        steps = {name: getattr(module, name, None) for name in ("input_fn", "predict_fn", "output_fn")}
        transform_fn = getattr(module, "transform_fn", None)
        if transform_fn is not None and any(steps.values()):
            raise ScriptError(
                f"{program}: Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn"
            )
        return cls(
            model_fn=getattr(module, "model_fn", default_model_fn),
            input_fn=steps["input_fn"] or default_input_fn,
            predict_fn=steps["predict_fn"] or default_predict_fn,
            output_fn=steps["output_fn"] or default_output_fn,
            transform_fn=transform_fn,
        )

    def invoke(self, model: Any, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """Run one request through the handlers; returns the response body and its Content-Type.

        Only the container's own defaults answer 415/406 (``InvocationError``); whatever a script's
        function raises goes up, to be a 500."""
        content = request_content(body, content_type)
        if self.transform_fn is not None:
            result = self.transform_fn(model, content, content_type, accept)
        else:
            try:
                data = self.input_fn(content, content_type)
            except UnsupportedFormatError as error:
                if self.input_fn is not default_input_fn:
                    raise
                raise InvocationError(415, error) from None
            prediction = self.predict_fn(data, model)
            try:
                result = self.output_fn(prediction, accept)
            except UnsupportedFormatError as error:
                if self.output_fn is not default_output_fn:
                    raise
                raise InvocationError(406, error) from None
        if isinstance(result, tuple):
            data, mimetype = result[0], str(result[1])
        else:
            data, mimetype = result, accept
        if isinstance(data, str):
            data = data.encode("utf-8")
        elif not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"output_fn must return str or bytes, got {type(data).__name__}")
        return bytes(data), response_type(mimetype)
