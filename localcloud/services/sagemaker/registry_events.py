"""Model registry events: approval changes put ``SageMaker Model Package State Change`` on the bus.

moto records approvals but emits nothing. Here ``create_model_package`` and
``update_model_package`` of moto's backend are wrapped so that every status a package enters is
announced, in AWS's event shape, on the default bus of its account and region. The wrapper also
keeps the metadata that moto 5.2.5 drops when an update does not repeat it (AWS merges it).
"""

from __future__ import annotations

import json
from typing import Any

from moto.events.models import events_backends
from moto.sagemaker.models import SageMakerModelBackend

from localcloud.core import moto_seam as seam


def event_for(package) -> dict[str, Any]:
    detail = {
        "ModelPackageGroupName": package.model_package_group_name,
        "ModelPackageVersion": package.model_package_version,
        "ModelPackageArn": package.arn,
        "ModelPackageName": package.model_package_name,
        "CreationTime": package.creation_time,
        "InferenceSpecification": package.inference_specification,
        "ModelPackageStatus": package.model_package_status,
        "ModelApprovalStatus": package.model_approval_status,
        "CustomerMetadataProperties": package.customer_metadata_properties or {},
        "ModelMetrics": package.model_metrics or {},
    }
    return {
        "Source": "aws.sagemaker",
        "DetailType": "SageMaker Model Package State Change",
        "Detail": json.dumps(detail, default=str),
        "Resources": [package.arn],
        "EventBusName": "default",
    }


def announce(backend: SageMakerModelBackend, arn: str) -> None:
    package = backend.model_packages[backend.model_package_name_mapping.get(arn, arn)]
    events_backends[backend.account_id][backend.region_name].put_events([event_for(package)])


def _wrap_create(original):
    def create_model_package(self, *args, **kwargs):
        arn = original(self, *args, **kwargs)
        announce(self, arn)
        return arn

    return create_model_package


def _wrap_update(original):
    def update_model_package(
        self,
        model_package_arn,
        model_approval_status,
        approval_description,
        customer_metadata_properties,
        customer_metadata_properties_to_remove,
        additional_inference_specifications_to_add,
    ):
        name = self.model_package_name_mapping.get(model_package_arn, model_package_arn)
        package = self.model_packages.get(name)
        before_status = package.model_approval_status if package else None
        merged = dict((package.customer_metadata_properties or {}) if package else {})
        merged.update(customer_metadata_properties or {})
        description = (
            approval_description
            if approval_description is not None
            else (package.approval_description if package else None)
        )
        arn = original(
            self,
            model_package_arn,
            model_approval_status,
            description,
            merged or None,
            customer_metadata_properties_to_remove,
            additional_inference_specifications_to_add,
        )
        if model_approval_status and model_approval_status != before_status:
            announce(self, arn)
        return arn

    return update_model_package


def install(cloud) -> None:  # noqa: ARG001 - patches moto's backend class, which is per process
    until = "moto emitting 'SageMaker Model Package State Change' events to EventBridge"
    seam.patch(
        SageMakerModelBackend,
        "create_model_package",
        wrap=_wrap_create,
        why="a registered package emits its state change event",
        until=until,
    )
    seam.patch(
        SageMakerModelBackend,
        "update_model_package",
        wrap=_wrap_update,
        why="an approval status change emits its state change event (what starts ModelDeploy)",
        until=until,
    )
