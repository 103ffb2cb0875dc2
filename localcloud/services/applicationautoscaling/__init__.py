"""Application Auto Scaling that acts: target tracking and step scaling on SageMaker variants.

moto keeps scalable targets and policies and creates target tracking alarms only for DynamoDB and
ECS; it never scales. Here a SageMaker target tracking policy creates its alarms (``policies``),
alarm actions run the policy (``scaler``), and ``DescribeScalingActivities`` (which moto lacks)
reports each activity (``activities``). ``cfn.py`` holds the CloudFormation types, which go
through the same backend methods, so a stack's policies act too.
"""

from __future__ import annotations

from typing import Any

from moto.applicationautoscaling.models import ApplicationAutoscalingBackend, FakeApplicationAutoscalingPolicy

from localcloud.core import moto_seam as seam
from localcloud.core.errors import AwsError
from localcloud.services.applicationautoscaling.activities import ActivityLog
from localcloud.services.applicationautoscaling.policies import sagemaker_alarms
from localcloud.services.applicationautoscaling.scaler import Scaler
from localcloud.services.cloudwatch import alarms

TARGET_PREFIX = "AnyScaleFrontendService"


class ScalingService:
    def __init__(self, cloud):
        self.cloud = cloud
        self.activities = ActivityLog(cloud.state.path("applicationautoscaling"))
        self.scaler = Scaler(cloud, self.activities)

    def describe_scaling_activities(self, call) -> dict[str, Any]:
        namespace = call.body.get("ServiceNamespace")
        if not namespace:
            raise AwsError("ValidationException", "DescribeScalingActivities needs ServiceNamespace.")
        chosen = self.activities.of_target(
            call.account,
            call.region,
            namespace,
            call.body.get("ResourceId"),
            call.body.get("ScalableDimension"),
            include_not_scaled=bool(call.body.get("IncludeNotScaledActivities")),
        )
        size = int(call.body.get("MaxResults") or 50)
        try:
            offset = int(call.body.get("NextToken") or 0)
        except ValueError:
            raise AwsError("InvalidNextTokenException", "The NextToken is not valid.") from None
        answer: dict[str, Any] = {"ScalingActivities": [a.shown() for a in chosen[offset : offset + size]]}
        if offset + size < len(chosen):
            answer["NextToken"] = str(offset + size)
        return answer

    def shutdown(self) -> None:
        self.activities.close()


def _create_alarms(original):
    def create_alarms(self: FakeApplicationAutoscalingPolicy) -> None:
        if self.policy_type != "TargetTrackingScaling" or self.service_namespace != "sagemaker":
            return original(self)
        from moto.applicationautoscaling.models import applicationautoscaling_backends

        backend: ApplicationAutoscalingBackend = applicationautoscaling_backends[self.account_id][self.region_name]
        key = self.formulate_key(self.service_namespace, self.resource_id, self.scalable_dimension, self.policy_name)
        self.alarms.extend(sagemaker_alarms(self, backend.policies.get(key)))

    return create_alarms


def install(cloud) -> ScalingService:
    seam.patch(
        FakeApplicationAutoscalingPolicy,
        "create_alarms",
        wrap=_create_alarms,
        why="a SageMaker target tracking policy creates its AlarmHigh/AlarmLow alarms (an update replaces them)",
        until="moto creating target tracking alarms for SageMaker variants",
    )
    service = ScalingService(cloud)
    alarms.register_action("autoscaling", service.scaler.on_alarm)
    cloud.gateway.json(TARGET_PREFIX, "DescribeScalingActivities")(service.describe_scaling_activities)
    cloud.state.note_backend("applicationautoscaling")
    return service
