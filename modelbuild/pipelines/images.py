"""Container images: the AWS scikit-learn framework image for every job and for serving."""

from __future__ import annotations

from sagemaker.core import image_uris

SKLEARN_FRAMEWORK_VERSION = "1.2-1"


def sklearn_image_uri(region: str, image_scope: str, instance_type: str = "ml.m5.large") -> str:
    """URI of the scikit-learn image for 'training' (also used for processing) or 'inference'.

    The image URI only depends on the region and scope for CPU instances, so a pipeline
    parameter for the instance type does not change it.
    """
    return image_uris.retrieve(
        "sklearn",
        region=region,
        version=SKLEARN_FRAMEWORK_VERSION,
        py_version="py3",
        instance_type=instance_type,
        image_scope=image_scope,
    )
