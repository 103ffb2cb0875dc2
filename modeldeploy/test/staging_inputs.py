"""Gathers what the staging test needs: which endpoint, which model, which rows.

The build stage's configuration file names the endpoint and the model package;
the model package's metadata names its held-out test split, the label column
and the accuracy the model must reach. Every missing piece is reported with
the file or property it should come from.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError


class InputError(RuntimeError):
    """Something the test needs is missing or unreadable; the message says where it should come from."""


@dataclass(frozen=True)
class DeploymentUnderTest:
    endpoint_name: str
    model_package_arn: str


@dataclass(frozen=True)
class PackageExpectations:
    test_data_uri: str
    target_column: str
    accuracy_threshold: float


@dataclass(frozen=True)
class HeldOutRows:
    """Held-out rows split into the feature values the endpoint gets and the labels it should give."""

    feature_names: list[str]
    features: list[list[str]]
    labels: list[int]


def read_build_config(path: Path | str) -> DeploymentUnderTest:
    """Endpoint name and model package ARN from the build's exported template configuration."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: build configuration not found; the build stage writes it (BUILD_CONFIG)") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error})") from None
    parameters = document.get("Parameters") if isinstance(document, dict) else None
    if not isinstance(parameters, dict):
        raise InputError(f'{path}: no "Parameters" object; was it written by build.py?')
    missing = [key for key in ("EndpointName", "ModelPackageName") if not parameters.get(key)]
    if missing:
        raise InputError(f"{path}: Parameters lacks {', '.join(missing)}")
    return DeploymentUnderTest(parameters["EndpointName"], parameters["ModelPackageName"])


def read_package_expectations(sagemaker_client: Any, model_package_arn: str) -> PackageExpectations:
    """The test split, label column and accuracy threshold recorded on the model package."""
    try:
        package = sagemaker_client.describe_model_package(ModelPackageName=model_package_arn)
    except ClientError as error:
        raise InputError(f"cannot describe model package {model_package_arn}: {error}") from None
    metadata = package.get("CustomerMetadataProperties") or {}
    missing = [key for key in ("TestDataS3Uri", "TargetColumn", "AccuracyThreshold") if not metadata.get(key)]
    if missing:
        raise InputError(
            f"model package {model_package_arn} lacks CustomerMetadataProperties {', '.join(missing)}; "
            "the ModelBuild pipeline records them when it registers a model"
        )
    try:
        threshold = float(metadata["AccuracyThreshold"])
    except ValueError:
        raise InputError(
            f"model package {model_package_arn}: AccuracyThreshold {metadata['AccuracyThreshold']!r} "
            "is not a number between 0 and 1"
        ) from None
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"model package {model_package_arn}: AccuracyThreshold {threshold} is not between 0 and 1")
    return PackageExpectations(metadata["TestDataS3Uri"], metadata["TargetColumn"], threshold)


def load_test_rows(s3_client: Any, uri: str, target_column: str) -> HeldOutRows:
    """Download the CSV at uri (header row included) and split off the target column."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise InputError(f"TestDataS3Uri {uri!r} is not an s3://bucket/key URI of a CSV file")
    try:
        body = s3_client.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read()
    except ClientError as error:
        raise InputError(f"cannot read the test data {uri}: {error}") from None
    return parse_test_csv(body.decode("utf-8"), target_column, uri)


def parse_test_csv(text: str, target_column: str, source: str) -> HeldOutRows:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise InputError(f"{source} is empty; expected a header row and data rows")
    if target_column not in header:
        raise InputError(f"{source} has no column {target_column!r} (TargetColumn); its columns are {header}")
    target_index = header.index(target_column)
    features, labels = [], []
    for line_number, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise InputError(f"{source} line {line_number}: {len(row)} values, header has {len(header)}")
        try:
            labels.append(int(float(row[target_index])))
        except ValueError:
            raise InputError(
                f"{source} line {line_number}: label {row[target_index]!r} in {target_column} is not a number"
            ) from None
        features.append([value for index, value in enumerate(row) if index != target_index])
    if not features:
        raise InputError(f"{source} has a header but no data rows")
    feature_names = [name for name in header if name != target_column]
    return HeldOutRows(feature_names, features, labels)
