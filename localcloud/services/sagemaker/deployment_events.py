"""What a deployment shows while it runs: ``PendingDeploymentSummary`` and the events SageMaker emits.

``DescribeEndpoint`` reports the deployment in progress as a ``PendingDeploymentSummary`` (the new
configuration, and per variant its instance counts, weights and ``VariantStatus``: ``Creating``,
``Updating``, ``ActivatingTraffic``, ``Baking``, ``Deleting``, each with a message and start time).
Every change of it, and the deployment's end, goes to the account's default event bus as a
``SageMaker Endpoint Deployment State Change`` event (source ``aws.sagemaker``), in the shape AWS
documents: the endpoint's description with upper-case ``EndpointStatus`` and times in epoch
milliseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.core.utils import utcnow
from moto.events.models import events_backends

DETAIL_TYPE = "SageMaker Endpoint Deployment State Change"
EVENT_STATUS = {"InService": "IN_SERVICE", "Updating": "UPDATING", "Failed": "FAILED", "Creating": "CREATING"}


@dataclass
class PendingVariant:
    name: str
    desired_instances: int
    weight: float
    current_instances: int = 0
    status: str = "Creating"
    message: str = ""
    since: datetime = field(default_factory=utcnow)


@dataclass
class PendingSummary:
    """The deployment in progress, as DescribeEndpoint's PendingDeploymentSummary shows it."""

    config_name: str
    variants: list[PendingVariant]
    start: datetime = field(default_factory=utcnow)

    def phase(self, status: str, message, current: dict[str, int] | None = None) -> None:
        """Every variant enters ``status``; ``message`` is a text or a function of the variant."""
        now = utcnow()
        for variant in self.variants:
            variant.status = status
            variant.message = message(variant) if callable(message) else message
            variant.since = now
            if current is not None and variant.name in current:
                variant.current_instances = current[variant.name]

    def describe(self) -> dict[str, Any]:
        return {
            "EndpointConfigName": self.config_name,
            "StartTime": self.start,
            "ProductionVariants": [
                {
                    "VariantName": v.name,
                    "CurrentWeight": v.weight,
                    "DesiredWeight": v.weight,
                    "CurrentInstanceCount": v.current_instances,
                    "DesiredInstanceCount": v.desired_instances,
                    "VariantStatus": [{"Status": v.status, "StatusMessage": v.message, "StartTime": v.since}],
                }
                for v in self.variants
            ],
        }


def _millis(value: Any) -> Any:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else value


def _epoch_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _epoch_times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_epoch_times(v) for v in value]
    return _millis(value)


def event_detail(endpoint) -> dict[str, Any]:
    detail = {
        "EndpointName": endpoint.endpoint_name,
        "EndpointArn": endpoint.arn,
        "EndpointConfigName": endpoint.endpoint_config_name,
        "ProductionVariants": endpoint.production_variants or [],
        "EndpointStatus": EVENT_STATUS.get(endpoint.endpoint_status, endpoint.endpoint_status.upper()),
        "CreationTime": endpoint.creation_time,
        "LastModifiedTime": endpoint.last_modified_time,
        "Tags": {tag["Key"]: tag["Value"] for tag in endpoint.tags or [] if "Key" in tag},
    }
    pending = getattr(endpoint, "pending_deployment_summary", None)
    if pending:
        detail["PendingDeploymentSummary"] = pending
    if getattr(endpoint, "failure_reason", None):
        detail["FailureReason"] = endpoint.failure_reason
    return _epoch_times(detail)


def emit(backend, endpoint) -> None:
    """Put the endpoint's deployment state on its account's default bus (call under the state lock)."""
    entry = {
        "Source": "aws.sagemaker",
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(event_detail(endpoint), default=str),
        "Resources": [endpoint.arn],
        "EventBusName": "default",
    }
    events_backends[backend.account_id][backend.region_name].put_events([entry])
