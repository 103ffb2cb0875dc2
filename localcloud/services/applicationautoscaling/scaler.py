"""Scaling that acts: a policy's alarm fires, the policy decides, SageMaker is told.

CloudWatch runs an alarm's Application Auto Scaling action at every evaluation while the alarm is
in ALARM (``cloudwatch.alarms``); here that action finds its policy, reads the variant's desired
instance count from ``DescribeEndpoint``, decides the new count (``policies``) within the scalable
target's MinCapacity and MaxCapacity, honours the cooldowns (scaled by ``core.clock``) and calls
``UpdateEndpointWeightsAndCapacities`` through the API, as the scaling service does on AWS. Every
change is an activity (InProgress until the endpoint is InService again, then Successful, or
Failed with SageMaker's reason); cooldowns are read from those activities, so they hold across a
restart. An endpoint that is not InService (being created, updated or scaled) is left alone until
a later evaluation.
"""

from __future__ import annotations

import logging
import threading
import time

from botocore.exceptions import ClientError
from moto.applicationautoscaling.models import applicationautoscaling_backends

from localcloud.core import clock
from localcloud.services.applicationautoscaling.activities import Activity, ActivityLog
from localcloud.services.applicationautoscaling.policies import step_capacity, target_tracking_capacity, variant_of
from localcloud.services.cloudwatch.alarms import Firing

log = logging.getLogger("localcloud.services.applicationautoscaling.scaler")
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
DEFAULT_COOLDOWN = 300  # AWS seconds: SageMaker variants' default scale-in, scale-out and step cooldown
SETTLE_TIMEOUT = 900.0  # real seconds an activity waits for the endpoint to be InService again


class Scaler:
    def __init__(self, cloud, activities: ActivityLog):
        self.cloud = cloud
        self.activities = activities
        self._lock = threading.Lock()

    def _find(self, account: str, region: str, arn: str):
        with self.cloud.state.lock:
            backend = applicationautoscaling_backends[account][region]
            for policy in list(backend.policies.values()):
                if arn == policy.policy_arn or arn.startswith(policy.policy_arn + ":"):
                    target = backend.targets.get(policy.scalable_dimension, {}).get(policy.resource_id)
                    return policy, target
        return None, None

    def on_alarm(self, arn: str, firing: Firing) -> str:
        """The alarm action: scale if the policy, the target and the cooldowns say so."""
        policy, target = self._find(firing.account, firing.region, arn)
        if policy is None:
            raise RuntimeError(f"no scaling policy has the ARN {arn}")
        if target is None:
            raise RuntimeError(f"the scalable target of policy {policy.policy_name} is not registered")
        if policy.service_namespace != "sagemaker" or policy.scalable_dimension != DIMENSION:
            raise RuntimeError(
                f"the local cloud scales SageMaker variants ({DIMENSION}) only, not {policy.scalable_dimension}"
            )
        with self._lock:
            return self._scale(policy, target, firing)

    def _scale(self, policy, target, firing: Firing) -> str:
        endpoint, variant = variant_of(policy.resource_id)
        sagemaker = self.cloud.client("sagemaker", firing.region)
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
        if described["EndpointStatus"] != "InService":
            return f"endpoint {endpoint} is {described['EndpointStatus']}: not scaled now"
        current = None
        for entry in described.get("ProductionVariants", []):
            if entry["VariantName"] == variant:
                current = entry.get("DesiredInstanceCount") or entry.get("CurrentInstanceCount")
        if current is None:
            raise RuntimeError(f"endpoint {endpoint} has no variant {variant} with an instance count")
        tracking = policy.policy_type == "TargetTrackingScaling"
        if tracking:
            wanted = target_tracking_capacity(policy, current, firing.latest, high="-AlarmHigh-" in firing.alarm_name)
        else:
            wanted = step_capacity(policy, current, firing.latest, firing.threshold)
        if wanted is None:
            return "no datapoint or step matches: not scaled"
        asked = int(wanted)
        wanted = max(int(target.min_capacity), min(int(target.max_capacity), asked))
        if wanted == current:
            if asked > current:
                self._not_scaled(
                    policy, firing, asked, current, "AlreadyAtMaxCapacity", MaxCapacity=int(target.max_capacity)
                )
            elif asked < current:
                self._not_scaled(
                    policy, firing, asked, current, "AlreadyAtMinCapacity", MinCapacity=int(target.min_capacity)
                )
            return f"desired instance count stays {current}"
        direction = "out" if wanted > current else "in"
        suspended = target.suspended_state or {}
        if suspended.get("DynamicScalingOutSuspended" if direction == "out" else "DynamicScalingInSuspended"):
            return f"dynamic scaling {direction} is suspended on the target"
        if self._cooling(policy, direction, firing):
            return "in cooldown"
        activity = Activity(
            ActivityId=self.activities.new_id(),
            ServiceNamespace=policy.service_namespace,
            ResourceId=policy.resource_id,
            ScalableDimension=policy.scalable_dimension,
            Description=f"Setting desired instance count to {wanted}.",
            Cause=_cause(firing, policy),
            StartTime=time.time(),
            StatusCode="InProgress",
            account=firing.account,
            region=firing.region,
            policy=policy.policy_arn,
            direction=direction,
        )
        self.activities.record(activity)
        try:
            sagemaker.update_endpoint_weights_and_capacities(
                EndpointName=endpoint,
                DesiredWeightsAndCapacities=[{"VariantName": variant, "DesiredInstanceCount": wanted}],
            )
        except ClientError as error:
            self._finish(activity, "Failed", f"Failed to set desired instance count to {wanted}. Reason: {error}")
            return activity.StatusMessage
        threading.Thread(
            target=self._settle, args=(activity, endpoint, wanted, firing.region), name="scaling-activity", daemon=True
        ).start()
        return activity.Description

    def _not_scaled(self, policy, firing: Firing, asked: int, current: int, code: str, **limits: int) -> None:
        """A not scaled activity (IncludeNotScaledActivities), once until the target's situation changes."""
        latest = self.activities.of_target(
            firing.account,
            firing.region,
            policy.service_namespace,
            policy.resource_id,
            policy.scalable_dimension,
            include_not_scaled=True,
        )
        if latest and latest[0].NotScaledReasons and latest[0].NotScaledReasons[0]["Code"] == code:
            return
        now = time.time()
        self.activities.record(
            Activity(
                ActivityId=self.activities.new_id(),
                ServiceNamespace=policy.service_namespace,
                ResourceId=policy.resource_id,
                ScalableDimension=policy.scalable_dimension,
                Description=f"Setting desired instance count to {asked}.",
                Cause=_cause(firing, policy),
                StartTime=now,
                EndTime=now,
                StatusCode="Failed",
                StatusMessage=f"Failed to set desired instance count to {asked}.",
                NotScaledReasons=[{"Code": code, **limits, "CurrentCapacity": current}],
                account=firing.account,
                region=firing.region,
                policy=policy.policy_arn,
            )
        )

    def _cooling(self, policy, direction: str, firing: Firing) -> bool:
        """True while a previous activity of the target is in progress or still cooling down."""
        now = time.time()
        previous = self.activities.of_target(
            firing.account, firing.region, policy.service_namespace, policy.resource_id, policy.scalable_dimension
        )
        if any(a.StatusCode in ("Pending", "InProgress") for a in previous):
            return True
        done = [a for a in previous if a.StatusCode == "Successful"]
        if policy.policy_type == "TargetTrackingScaling":
            config = policy.target_tracking_scaling_policy_configuration or {}
            if direction == "out":
                wait = float(config.get("ScaleOutCooldown", DEFAULT_COOLDOWN))
                relevant = [a for a in done if a.direction == "out"]
            else:  # scale in waits for the scale-in cooldown after any change of the target
                wait = float(config.get("ScaleInCooldown", DEFAULT_COOLDOWN))
                relevant = done
        else:
            wait = float((policy.step_scaling_policy_configuration or {}).get("Cooldown", DEFAULT_COOLDOWN))
            relevant = [a for a in done if a.policy == policy.policy_arn]
        last = max((a.EndTime or a.StartTime for a in relevant), default=None)
        return last is not None and now - last < clock.local_seconds(wait)

    def _settle(self, activity: Activity, endpoint: str, wanted: int, region: str) -> None:
        """InProgress until SageMaker reports the endpoint InService again with the new count."""
        sagemaker = self.cloud.client("sagemaker", region)
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while not self.cloud.stopping.is_set():
            try:
                described = sagemaker.describe_endpoint(EndpointName=endpoint)
            except ClientError as error:
                self._finish(activity, "Failed", f"Failed to set desired instance count to {wanted}. Reason: {error}")
                return
            status = described["EndpointStatus"]
            if status == "InService":
                self._finish(
                    activity,
                    "Successful",
                    f"Successfully set desired instance count to {wanted}. Change successfully fulfilled by sagemaker.",
                )
                return
            if status == "Failed" or time.monotonic() > deadline:
                reason = described.get("FailureReason") or f"endpoint {endpoint} is {status}"
                self._finish(activity, "Failed", f"Failed to set desired instance count to {wanted}. Reason: {reason}")
                return
            time.sleep(0.05)

    def _finish(self, activity: Activity, status: str, message: str) -> None:
        activity.StatusCode, activity.StatusMessage, activity.EndTime = status, message, time.time()
        self.activities.record(activity)
        if status != "Successful":
            log.warning("%s: %s", activity.ResourceId, message)


def _cause(firing: Firing, policy) -> str:
    return f"monitor alarm {firing.alarm_name} in state {firing.state} triggered policy {policy.policy_name}"
