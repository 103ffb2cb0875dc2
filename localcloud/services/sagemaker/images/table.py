"""The scikit-learn framework images the local cloud can stand in for: each one's Python and libraries.

Every row is read from github.com/aws/sagemaker-scikit-learn-container at the commit its image is
built from: the Python of its ``docker/<version>/base/Dockerfile.cpu`` (``ARG PYTHON_VERSION``) and
the pins of ``requirements.txt`` (pyarrow, where the Dockerfile installs it apart). Only the libraries a
user's script imports are kept; the image's serving and training stacks (Flask, gunicorn,
multi-model-server, sagemaker-training, sagemaker-inference) are not, because the local cloud plays
their part itself (``training_toolkit``, ``serving/``). Change a row together with its source.
"""

from __future__ import annotations

from dataclasses import dataclass

REPOSITORY = "sagemaker-scikit-learn"
SOURCE_REPOSITORY = "https://github.com/aws/sagemaker-scikit-learn-container"


@dataclass(frozen=True)
class FrameworkImage:
    """One image version: what its environment is built from, and where that was read."""

    version: str  # the framework version of the image tag: 1.2-1 in sagemaker-scikit-learn:1.2-1-cpu-py3
    python: str  # major.minor, e.g. "3.12"
    libraries: tuple[str, ...]  # pip requirement lines
    source: str  # the commit and files the row was read from

    @property
    def key(self) -> str:
        """The environment's folder name: the version and its Python."""
        return f"sklearn-{self.version}-py{self.python.replace('.', '')}"

    def pin(self, name: str) -> str | None:
        """The requirement line for ``name`` (case and ``-``/``_`` alike), if the image pins it."""
        wanted = _normal(name)
        for line in self.libraries:
            if _normal(_name_of(line)) == wanted:
                return line
        return None


def _name_of(requirement: str) -> str:
    for index, char in enumerate(requirement):
        if char in "<>=!~; [":
            return requirement[:index]
    return requirement


def _normal(name: str) -> str:
    return name.lower().replace("_", "-")


def _source(ref: str, commit: str, docker: str) -> str:
    return f"{SOURCE_REPOSITORY} {ref} ({commit[:12]}): requirements.txt, docker/{docker}/base/Dockerfile.cpu"


BOTO_2023 = ("boto3==1.28.57", "botocore>=1.31.57,<1.32.0")
IMAGES: dict[str, FrameworkImage] = {
    image.version: image
    for image in (
        FrameworkImage(
            "1.0-1",
            "3.8",
            ("numpy==1.24.1", "scipy==1.8.0", "scikit-learn==1.0.2", "pandas==1.1.3", "pyarrow==14.0.1")
            + BOTO_2023
            + ("python-dateutil==2.8.1",),
            _source("branch 1.0-1", "117925d1d4ee65b1595355c742f3c0d140c046a9", "1.0-1"),
        ),
        FrameworkImage(
            "1.2-1",
            "3.9",
            ("numpy==1.24.1", "scipy==1.8.0", "scikit-learn==1.2.1", "pandas==1.1.3", "pyarrow==14.0.1")
            + BOTO_2023
            + ("python-dateutil==2.8.1",),
            _source("branch 1.2-1", "b440c40d318284336acb57b2dd554f7fa1e39fe0", "1.2-1"),
        ),
        FrameworkImage(
            "1.4-2",
            "3.10",
            ("numpy==2.1.0", "scipy>=1.9.0", "scikit-learn==1.4.2", "pandas==2.3.2", "pyarrow==17.0.0")
            + BOTO_2023
            + ("python-dateutil",),
            _source("branch v1.4-2", "6c5704d20eabcd1561e9cb938671c92e79c32310", "1.4-2"),
        ),
        FrameworkImage(
            "1.4-2-py312",
            "3.12",
            ("numpy==2.1.0", "scipy>=1.9.0", "scikit-learn==1.4.2", "pandas==2.3.2", "pyarrow==17.0.0")
            + BOTO_2023
            + ("python-dateutil",),
            _source("branch release-1.4-2-py312", "85e9fb98dd8ca73af7deecaf1ee1da2d0860dbb0", "1.4-2-py312"),
        ),
        FrameworkImage(
            "1.9-0",
            "3.12",
            (
                "numpy==2.5.1",
                "scipy==1.18.0",
                "scikit-learn==1.9.0",
                "pandas==2.2.3",
                "joblib>=1.4.0",
                "threadpoolctl>=3.5.0",
                "narwhals>=2.0.1",
                "pyarrow==25.0.0",
                "boto3==1.43.46",
                "botocore>=1.43.46,<1.44",
                "python-dateutil==2.9.0.post0",
            ),
            _source(
                "master, the commit moving it to scikit-learn 1.9",
                "5116ceb0b1ddf64769d19d78bf47580167425d34",
                "1.4-2-py312",
            ),
        ),
    )
}


def supported() -> list[str]:
    """The versions the local cloud runs, oldest first (for messages)."""
    return list(IMAGES)
