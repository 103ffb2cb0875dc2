"""Which table row an image URI names, or why the local cloud cannot run it.

SageMaker's scikit-learn images are ``<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-scikit-learn:
<version>-cpu-py3`` (the SDK's ``image_uris.retrieve("sklearn", ...)``). Any other image (XGBoost,
PyTorch, a bring-your-own container) would run a program the local cloud does not have.
"""

from __future__ import annotations

import re

from localcloud.services.sagemaker.images.table import IMAGES, REPOSITORY, FrameworkImage, supported

ECR_IMAGE = re.compile(
    r"^(?:[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/)?(?P<repository>[a-z0-9._/-]+)"
    r"(?::(?P<tag>[A-Za-z0-9._-]+))?(?:@sha256:[0-9a-f]{64})?$"
)
SKLEARN_TAG = re.compile(r"^(?P<version>.+?)-cpu-py3$")


class ImageNotSupported(ValueError):
    """The job or model names an image the local cloud cannot stand in for."""


def framework_image(uri: str, what: str = "image") -> FrameworkImage:
    """The table's row for ``uri``; ImageNotSupported names the image and what is supported."""
    listed = ", ".join(f"{REPOSITORY}:{version}-cpu-py3" for version in supported())
    match = ECR_IMAGE.match(uri or "")
    if not uri:
        raise ImageNotSupported(f"the {what} names no image: name a scikit-learn framework image ({listed})")
    repository = match.group("repository").rsplit("/", 1)[-1] if match else ""
    tag = (match.group("tag") or "") if match else ""
    if repository != REPOSITORY:
        raise ImageNotSupported(
            f"the {what} {uri} is not supported by the local cloud, which runs scripts in SageMaker's "
            f"scikit-learn framework images only: name one of {listed}"
        )
    version_match = SKLEARN_TAG.match(tag)
    version = version_match.group("version") if version_match else tag
    if version not in IMAGES:
        raise ImageNotSupported(
            f"the {what} {uri} (scikit-learn {version or 'with no version tag'}) is not supported by the local "
            f"cloud: it has the libraries of scikit-learn images {', '.join(supported())} ({listed})"
        )
    return IMAGES[version]
