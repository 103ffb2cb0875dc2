"""The framework images jobs and model servers name: each runs on that image's Python and libraries.

``table`` lists the scikit-learn images the local cloud stands in for and where each row was read;
``uris`` maps an image URI to its row (or refuses it, naming what is supported); ``interpreters``
finds the Python each needs on this machine; ``environments`` builds one virtual environment per
image, once, into a cache outside the state folder.
"""

from __future__ import annotations

from collections.abc import Callable

from localcloud.services.sagemaker.images import table
from localcloud.services.sagemaker.images.environments import ImageEnvironment, ImageUnavailable, prepare
from localcloud.services.sagemaker.images.interpreters import InterpreterMissing
from localcloud.services.sagemaker.images.uris import ImageNotSupported, framework_image

__all__ = [
    "table",
    "ImageEnvironment",
    "ImageNotSupported",
    "ImageUnavailable",
    "InterpreterMissing",
    "environment_for",
]


def environment_for(uri: str, on_line: Callable[[str], None], what: str = "image") -> ImageEnvironment:
    """The built environment of the image ``uri`` names (built now, with progress, on first use).

    Raises ImageNotSupported for an image the local cloud cannot run, InterpreterMissing or
    ImageUnavailable when its environment cannot be made here."""
    return prepare(framework_image(uri, what), on_line)
