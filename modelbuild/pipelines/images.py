"""Container images: the AWS scikit-learn framework image for every job and for serving.

The step scripts run with the libraries of this image, not with what the build installs. The
1.9-0 image has Python 3.12, scikit-learn 1.9.0, numpy 2.5.1, scipy 1.18.0 and pandas 2.2.3 (the
requirements.txt of github.com/aws/sagemaker-scikit-learn-container at the commit that moved it
to scikit-learn 1.9); requirements-image.txt pins the same versions so the script tests can run
against them. Change the two together.
"""

from __future__ import annotations

from sagemaker.core import image_uris

from pipelines.instance_types import DEFAULT_PROCESSING_INSTANCE_TYPE

SKLEARN_FRAMEWORK_VERSION = "1.9-0"


def sklearn_image_uri(region: str, image_scope: str, instance_type: str = DEFAULT_PROCESSING_INSTANCE_TYPE) -> str:
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
