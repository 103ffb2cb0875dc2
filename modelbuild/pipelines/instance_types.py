"""Every instance type this repository names, in one place.

The processing and training defaults become the ProcessingInstanceType and TrainingInstanceType
pipeline parameters (override them per run). The inference and transform lists are recorded on
each registered model package: they are the instance types the package may be deployed on, so
the ModelDeploy repository's stage files must pick their EndpointInstanceType from
INFERENCE_INSTANCE_TYPES. The scikit-learn images are CPU images: keep to CPU types.
"""

from __future__ import annotations

DEFAULT_PROCESSING_INSTANCE_TYPE = "ml.m5.large"  # Preprocess and Evaluate
DEFAULT_TRAINING_INSTANCE_TYPE = "ml.m5.large"  # Train
INFERENCE_INSTANCE_TYPES = ["ml.t2.medium", "ml.m5.large", "ml.m5.xlarge"]  # real-time endpoints
TRANSFORM_INSTANCE_TYPES = ["ml.m5.large", "ml.m5.xlarge"]  # batch transform
DEFAULT_INFERENCE_INSTANCE_TYPE = "ml.m5.large"  # what ModelBuilder records as the default
