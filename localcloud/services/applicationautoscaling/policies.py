"""What a scaling policy decides: the alarms a SageMaker target tracking policy creates, and the
new capacity a firing alarm asks for (target tracking or step scaling).

Target tracking on ``SageMakerVariantInvocationsPerInstance`` creates two alarms, as Application
Auto Scaling does: ``TargetTracking-<resource>-AlarmHigh-<uuid>`` (Sum of InvocationsPerInstance
per minute above the target for 3 of 3 minutes) and ``...-AlarmLow-<uuid>`` (below 90 % of the
target for 15 of 15 minutes; none when scale-in is disabled). Their action is the policy's ARN.
The new capacity is proportional: ``ceil(current * metric / target)``, within the target's
minimum and maximum.
"""

from __future__ import annotations

import math
import re
import uuid
from typing import Any

from moto.applicationautoscaling.exceptions import AWSValidationException
from moto.cloudwatch.models import cloudwatch_backends

SAGEMAKER_VARIANT = re.compile(r"^endpoint/(?P<endpoint>[^/]+)/variant/(?P<variant>[^/]+)$")
INVOCATIONS_PER_INSTANCE = "SageMakerVariantInvocationsPerInstance"
HIGH_PERIODS, LOW_PERIODS, LOW_SHARE = 3, 15, 0.9


def variant_of(resource_id: str) -> tuple[str, str]:
    match = SAGEMAKER_VARIANT.match(resource_id or "")
    if not match:
        raise AWSValidationException(
            f"ResourceId {resource_id!r} is not a SageMaker variant: use endpoint/<EndpointName>/variant/<VariantName>"
        )
    return match.group("endpoint"), match.group("variant")


def _tracked_metric(policy, endpoint: str, variant: str) -> dict[str, Any]:
    config = policy.target_tracking_scaling_policy_configuration or {}
    predefined = config.get("PredefinedMetricSpecification")
    custom = config.get("CustomizedMetricSpecification")
    if predefined:
        kind = predefined.get("PredefinedMetricType")
        if kind != INVOCATIONS_PER_INSTANCE:
            raise AWSValidationException(
                f"PredefinedMetricType {kind} is not tracked by the local cloud for SageMaker variants: use "
                f"{INVOCATIONS_PER_INSTANCE} or a CustomizedMetricSpecification"
            )
        dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
        return {
            "namespace": "AWS/SageMaker",
            "metric_name": "InvocationsPerInstance",
            "dimensions": dimensions,
            "statistic": "Sum",
            "unit": None,
        }
    if custom and custom.get("MetricName"):
        return {
            "namespace": custom["Namespace"],
            "metric_name": custom["MetricName"],
            "dimensions": [{"Name": d["Name"], "Value": d["Value"]} for d in custom.get("Dimensions") or []],
            "statistic": custom.get("Statistic") or "Average",
            "unit": custom.get("Unit"),
        }
    raise AWSValidationException(
        "TargetTrackingScalingPolicyConfiguration needs a PredefinedMetricSpecification or a "
        "CustomizedMetricSpecification with MetricName (metric math is not evaluated locally)"
    )


def sagemaker_alarms(policy, previous) -> list:
    """Create the policy's high and low alarms (replacing those of the policy it updates)."""
    if previous is not None:
        previous.delete_alarms(policy.account_id, policy.region_name)
    endpoint, variant = variant_of(policy.resource_id)
    metric = _tracked_metric(policy, endpoint, variant)
    config = policy.target_tracking_scaling_policy_configuration or {}
    try:
        target = float(config["TargetValue"])
    except (KeyError, TypeError, ValueError):
        raise AWSValidationException("TargetTrackingScalingPolicyConfiguration.TargetValue must be a number") from None
    cloudwatch = cloudwatch_backends[policy.account_id][policy.region_name]
    description = f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {policy.policy_arn}."
    plans = [("AlarmHigh", "GreaterThanThreshold", target, HIGH_PERIODS)]
    if not config.get("DisableScaleIn"):
        plans.append(("AlarmLow", "LessThanThreshold", target * LOW_SHARE, LOW_PERIODS))
    alarms = []
    for suffix, operator, threshold, periods in plans:
        alarms.append(
            cloudwatch.put_metric_alarm(
                name=f"TargetTracking-{policy.resource_id}-{suffix}-{uuid.uuid4()}",
                namespace=metric["namespace"],
                metric_name=metric["metric_name"],
                comparison_operator=operator,
                evaluation_periods=periods,
                datapoints_to_alarm=periods,
                period=60,
                threshold=threshold,
                statistic=metric["statistic"],
                unit=metric["unit"],
                description=description,
                dimensions=metric["dimensions"],
                alarm_actions=[policy.policy_arn],
            )
        )
    return alarms


def target_tracking_capacity(policy, current: int, metric: float | None, high: bool) -> int | None:
    """The capacity that brings the metric back to the target; None without a datapoint to go on."""
    if metric is None:
        return None
    target = float((policy.target_tracking_scaling_policy_configuration or {})["TargetValue"])
    wanted = math.ceil(current * metric / target) if target > 0 else current
    return max(wanted, current + 1) if high else min(wanted, current)


def step_capacity(policy, current: int, metric: float | None, threshold: float) -> int | None:
    """The capacity a step scaling policy's matching step asks for."""
    config = policy.step_scaling_policy_configuration or {}
    difference = (metric - threshold) if metric is not None else 0.0
    for step in config.get("StepAdjustments") or []:
        lower = step.get("MetricIntervalLowerBound")
        upper = step.get("MetricIntervalUpperBound")
        low = -math.inf if lower is None else float(lower)
        high = math.inf if upper is None else float(upper)
        if low <= difference < high or (difference == high == 0.0):
            adjustment = float(step["ScalingAdjustment"])
            break
    else:
        return None
    kind = config.get("AdjustmentType") or "ChangeInCapacity"
    if kind == "ExactCapacity":
        return int(adjustment)
    if kind == "PercentChangeInCapacity":
        change = current * adjustment / 100.0
        change = math.ceil(change) if change > 0 else math.floor(change)
        minimum = int(config.get("MinAdjustmentMagnitude") or 0)
        if minimum and abs(change) < minimum:
            change = minimum if change >= 0 else -minimum
        return current + change
    return current + int(adjustment)
