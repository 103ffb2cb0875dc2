"""Gathers what the staging test needs: which endpoint, which model, which rows, which bar.

The build stage's configuration file names the endpoint and the model package;
the model package's metadata names its held-out test split and the target column,
and its model-quality report (the ModelBuild pipeline's evaluation.json) holds the
quality gate the pipeline registered it by: the problem type, the metric (accuracy
for classifiers, r2 for regressions) and its threshold. The endpoint is judged by
that same metric and threshold. Every missing piece is reported with the file or
property it should come from.
"""

from __future__ import annotations

import csv
import io
import json
import math
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


METRICS = {"accuracy", "r2"}  # what the ModelBuild quality gate can be measured by
PROBLEM_TYPES = {"binary_classification", "multiclass_classification", "regression"}
GATE_KEY = "quality_gate"


@dataclass(frozen=True)
class QualityGate:
    """The bar the pipeline registered the model by, from its model-quality report."""

    problem_type: str
    metric: str
    threshold: float
    threshold_parameter: str

    @property
    def regression(self) -> bool:
        return self.problem_type == "regression"


@dataclass(frozen=True)
class PackageExpectations:
    test_data_uri: str
    target_column: str
    gate: QualityGate


@dataclass(frozen=True)
class HeldOutRows:
    """Held-out rows split into the feature values the endpoint gets and the targets it should predict."""

    feature_names: list[str]
    features: list[list[str]]
    targets: list[float]


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


def read_package_expectations(sagemaker_client: Any, s3_client: Any, model_package_arn: str) -> PackageExpectations:
    """The test split and target column on the model package, and the gate in its quality report."""
    try:
        package = sagemaker_client.describe_model_package(ModelPackageName=model_package_arn)
    except ClientError as error:
        raise InputError(f"cannot describe model package {model_package_arn}: {error}") from None
    metadata = package.get("CustomerMetadataProperties") or {}
    missing = [key for key in ("TestDataS3Uri", "TargetColumn") if not metadata.get(key)]
    if missing:
        raise InputError(
            f"model package {model_package_arn} lacks CustomerMetadataProperties {', '.join(missing)}; "
            "the ModelBuild pipeline records them when it registers a model"
        )
    report_uri = package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
    if not report_uri:
        if metadata.get("AccuracyThreshold"):
            return PackageExpectations(
                metadata["TestDataS3Uri"], metadata["TargetColumn"], accuracy_gate(metadata, model_package_arn)
            )
        raise InputError(
            f"model package {model_package_arn} has no ModelMetrics.ModelQuality.Statistics report (nor an "
            "AccuracyThreshold in its metadata); the ModelBuild pipeline attaches its evaluation.json when it "
            "registers a model"
        )
    gate = read_quality_gate(json.loads(read_s3_text(s3_client, report_uri, "model-quality report")), report_uri)
    return PackageExpectations(metadata["TestDataS3Uri"], metadata["TargetColumn"], gate)


def accuracy_gate(metadata: dict, model_package_arn: str) -> QualityGate:
    """A classifier registered without a quality report (by hand, or by an older ModelBuild):
    judged on accuracy against the AccuracyThreshold in its metadata."""
    try:
        threshold = float(metadata["AccuracyThreshold"])
    except ValueError:
        raise InputError(
            f"model package {model_package_arn}: AccuracyThreshold {metadata['AccuracyThreshold']!r} "
            "is not a number between 0 and 1"
        ) from None
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"model package {model_package_arn}: AccuracyThreshold {threshold} is not between 0 and 1")
    return QualityGate("classification", "accuracy", threshold, "AccuracyThreshold")


def read_quality_gate(report: Any, source: str) -> QualityGate:
    """The quality_gate entry of an evaluation.json, checked field by field."""
    gate = report.get(GATE_KEY) if isinstance(report, dict) else None
    if not isinstance(gate, dict):
        raise InputError(f'{source} has no "{GATE_KEY}" object; was it written by the ModelBuild Evaluate step?')
    if gate.get("problem_type") not in PROBLEM_TYPES:
        raise InputError(f"{source}: {GATE_KEY}.problem_type must be one of {sorted(PROBLEM_TYPES)}")
    if gate.get("metric") not in METRICS:
        raise InputError(f"{source}: {GATE_KEY}.metric must be one of {sorted(METRICS)}, got {gate.get('metric')!r}")
    threshold = gate.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise InputError(f"{source}: {GATE_KEY}.threshold must be a number, got {threshold!r}")
    return QualityGate(gate["problem_type"], gate["metric"], float(threshold), str(gate.get("threshold_parameter")))


def read_s3_text(s3_client: Any, uri: str, what: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise InputError(f"the {what} location {uri!r} is not an s3://bucket/key URI")
    try:
        body = s3_client.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read()
    except ClientError as error:
        raise InputError(f"cannot read the {what} {uri}: {error}") from None
    return body.decode("utf-8")


def load_test_rows(s3_client: Any, uri: str, target_column: str) -> HeldOutRows:
    """Download the CSV at uri (header row included) and split off the target column."""
    if not urlparse(uri).path.strip("/") or urlparse(uri).scheme != "s3":
        raise InputError(f"TestDataS3Uri {uri!r} is not an s3://bucket/key URI of a CSV file")
    return parse_test_csv(read_s3_text(s3_client, uri, "test data"), target_column, uri)


def parse_test_csv(text: str, target_column: str, source: str) -> HeldOutRows:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise InputError(f"{source} is empty; expected a header row and data rows")
    if target_column not in header:
        raise InputError(f"{source} has no column {target_column!r} (TargetColumn); its columns are {header}")
    target_index = header.index(target_column)
    features, targets = [], []
    for line_number, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise InputError(f"{source} line {line_number}: {len(row)} values, header has {len(header)}")
        try:
            targets.append(float(row[target_index]))
        except ValueError:
            raise InputError(
                f"{source} line {line_number}: target {row[target_index]!r} in {target_column} is not a number"
            ) from None
        features.append([value for index, value in enumerate(row) if index != target_index])
    if not features:
        raise InputError(f"{source} has a header but no data rows")
    feature_names = [name for name in header if name != target_column]
    return HeldOutRows(feature_names, features, targets)
