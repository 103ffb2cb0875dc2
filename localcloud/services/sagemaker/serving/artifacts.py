"""From an endpoint configuration to ready-to-serve model folders.

Resolves each production variant the way SageMaker does (variant -> model -> its container -> the
model package's inference container when the model names one), then lays out ``/opt/ml`` for the
model server: ``model/`` holds the extracted ``model.tar.gz`` and, for the classic SDK v2 shape, a
``sourcedir.tar.gz`` named by ``SAGEMAKER_SUBMIT_DIRECTORY`` is extracted to ``code/``.
"""

from __future__ import annotations

import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from localcloud.core import moto_seam as seam
from localcloud.services.sagemaker import s3io

CONTAINER_ML = "/opt/ml"
MODEL_SUBMIT_DIR = "/opt/ml/model/code"
SOURCE_SUBMIT_DIR = "/opt/ml/code"


class DeploymentError(Exception):
    """A variant cannot be served; the message is the endpoint's FailureReason."""


@dataclass
class VariantSpec:
    """What one production variant serves, resolved from the SageMaker records."""

    variant_name: str
    model_name: str
    weight: float
    model_data_url: str | None
    environment: dict[str, str] = field(default_factory=dict)
    image: str = ""
    uncompressed: bool = False
    network_isolation: bool = False  # the model's EnableNetworkIsolation: its server gets no network


def _weight(variant: dict[str, Any]) -> float:
    raw = variant.get("InitialVariantWeight", 1.0)
    try:
        return float(raw if raw is not None else 1.0)
    except (TypeError, ValueError):
        raise DeploymentError(
            f"InitialVariantWeight of variant {variant.get('VariantName')!r} is {raw!r}: use a number >= 0"
        ) from None


def _model_data(container: dict[str, Any]) -> tuple[str | None, bool]:
    if container.get("ModelDataUrl"):
        return container["ModelDataUrl"], False
    source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    if source.get("S3Uri"):
        return source["S3Uri"], source.get("CompressionType", "None") == "None"
    return None, False


def resolve_variant(backend: Any, variant: dict[str, Any]) -> VariantSpec:
    """Follow variant -> model -> container (-> model package) to the artifact and environment."""
    name = variant.get("VariantName", "")
    model = backend._models.get(variant.get("ModelName"))
    if model is None:
        raise DeploymentError(f"variant {name}: model {variant.get('ModelName')!r} does not exist (CreateModel first)")
    containers = list(model.containers or [])
    if len(containers) > 1:
        raise DeploymentError(
            f"model {model.model_name} is a serial inference pipeline of {len(containers)} containers, "
            "which the local cloud does not serve: give the model one PrimaryContainer"
        )
    container = model.primary_container or (containers[0] if containers else None)
    if not container:
        raise DeploymentError(f"model {model.model_name} has no PrimaryContainer or Containers to serve")
    environment = dict(container.get("Environment") or {})
    image = container.get("Image", "")
    url, uncompressed = _model_data(container)
    package_name = container.get("ModelPackageName")
    if package_name:
        package = backend.model_packages.get(backend.model_package_name_mapping.get(package_name, package_name))
        if package is None:
            raise DeploymentError(f"model {model.model_name}: model package {package_name} not found")
        package_containers = (package.inference_specification or {}).get("Containers") or []
        if not package_containers:
            raise DeploymentError(f"model package {package_name} has no InferenceSpecification.Containers")
        package_container = package_containers[0]
        environment = {**(package_container.get("Environment") or {}), **environment}
        image = image or package_container.get("Image", "")
        if not url:
            url, uncompressed = _model_data(package_container)
    isolated = bool(getattr(model, "enable_network_isolation", False))
    return VariantSpec(name, model.model_name, _weight(variant), url, environment, image, uncompressed, isolated)


def resolve_config(backend: Any, endpoint_config_name: str) -> list[VariantSpec]:
    config = backend.endpoint_configs.get(endpoint_config_name)
    if config is None:
        raise DeploymentError(f"endpoint configuration {endpoint_config_name} does not exist")
    variants = config.production_variants or []
    if not variants:
        raise DeploymentError(f"endpoint configuration {endpoint_config_name} has no ProductionVariants")
    return [resolve_variant(backend, v) for v in variants]


# laying out /opt/ml ------------------------------------------------------------------------
def _extract(archive: Path, destination: Path, what: str) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(destination, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise DeploymentError(f"{what} is not a readable .tar.gz archive: {error}") from None


def _download(s3: Any, uri: str, destination: Path, what: str) -> None:
    try:
        s3io.download(s3, uri, destination)
    except FileNotFoundError:
        raise DeploymentError(f"{what} {uri} does not exist in S3: upload it or fix the URI") from None
    except (ClientError, BotoCoreError, ValueError) as error:
        raise DeploymentError(f"{what} {uri} could not be downloaded: {error}") from None


def _fetch_archive(s3: Any, uri: str, scratch: Path, destination: Path, what: str) -> None:
    if not uri.endswith((".tar.gz", ".tgz")):
        raise DeploymentError(
            f"{what} {uri} must be a .tar.gz archive (or use ModelDataSource with CompressionType None)"
        )
    _download(s3, uri, scratch, what)
    archive = scratch / uri.rsplit("/", 1)[-1]
    _extract(archive, destination, f"{what} {uri}")
    archive.unlink(missing_ok=True)


def _host_path(ml_dir: Path, container_path: str) -> Path | None:
    """Where a container path under /opt/ml lives on the host, or None if elsewhere."""
    if container_path == CONTAINER_ML or container_path.startswith(CONTAINER_ML + "/"):
        return ml_dir / container_path[len(CONTAINER_ML) :].lstrip("/")
    return None


def prepare(s3: Any, spec: VariantSpec, ml_dir: Path) -> dict[str, str]:
    """Fill ``ml_dir`` (mounted at /opt/ml) for ``spec``; returns the server's environment."""
    model_dir = ml_dir / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    scratch = ml_dir.parent / "download"
    environment = dict(spec.environment)
    try:
        if spec.model_data_url and spec.uncompressed:
            _download(s3, spec.model_data_url, model_dir, "model data")
        elif spec.model_data_url:
            _fetch_archive(s3, spec.model_data_url, scratch, model_dir, "model artifact")
        submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
        if submit.startswith("s3://"):
            _fetch_archive(s3, submit, scratch, ml_dir / "code", "source archive (SAGEMAKER_SUBMIT_DIRECTORY)")
            environment["SAGEMAKER_SUBMIT_DIRECTORY"] = SOURCE_SUBMIT_DIR
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    program = environment.get("SAGEMAKER_PROGRAM", "").strip()
    if program:
        environment.setdefault("SAGEMAKER_SUBMIT_DIRECTORY", MODEL_SUBMIT_DIR)
        code_dir = _host_path(ml_dir, environment["SAGEMAKER_SUBMIT_DIRECTORY"])
        if code_dir is not None and not (code_dir / program).is_file():
            where = (
                "code/ of model.tar.gz"
                if code_dir == ml_dir / "model" / "code"
                else environment["SAGEMAKER_SUBMIT_DIRECTORY"]
            )
            raise DeploymentError(
                f"inference script {program} (SAGEMAKER_PROGRAM) is not in {where}: package it there "
                f"or fix SAGEMAKER_PROGRAM/SAGEMAKER_SUBMIT_DIRECTORY of model {spec.model_name}"
            )
    elif not spec.model_data_url:
        raise DeploymentError(f"model {spec.model_name} has no ModelDataUrl and no SAGEMAKER_PROGRAM: nothing to serve")
    return environment


def record_network_isolation() -> None:
    """moto's CreateModel drops ``EnableNetworkIsolation``: keep it on the model, for ``resolve_variant``."""
    from moto.sagemaker.responses import SageMakerResponse

    def wrap(original):
        def create_model(self):
            result = original(self)
            model = self.sagemaker_backend._models.get(self._get_param("ModelName"))
            if model is not None:
                model.enable_network_isolation = bool(self._get_param("EnableNetworkIsolation"))
            return result

        return create_model

    seam.patch(
        SageMakerResponse,
        "create_model",
        wrap=wrap,
        why="a model's EnableNetworkIsolation is kept, so its model server gets no network",
        until="moto recording EnableNetworkIsolation on CreateModel",
    )
