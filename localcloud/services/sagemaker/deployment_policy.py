"""An endpoint's ``DeploymentConfig``, checked, and the traffic steps it asks for.

``BlueGreenUpdatePolicy`` shifts traffic to the new (green) fleet ``ALL_AT_ONCE``, in a ``CANARY``
and then the rest, or ``LINEAR``ly in equal steps; each step bakes ``WaitIntervalInSeconds``
while the ``AutoRollbackConfiguration`` alarms are watched, and the last one bakes
``TerminationWaitInSeconds`` (all at once bakes both) before the old fleet goes.
``RollingUpdatePolicy`` replaces the fleet ``MaximumBatchSize`` instances at a time (rolling.py),
baking ``WaitIntervalInSeconds`` after each batch, and rolls back ``RollbackMaximumBatchSize`` at a time.
Sizes count instances of each variant (``INSTANCE_COUNT``) or a share of them
(``CAPACITY_PERCENT``, at least one instance).
Every wait is AWS seconds; the deployment divides them by the local time scale (core.clock).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

ROUTING_TYPES = ("ALL_AT_ONCE", "CANARY", "LINEAR")
CAPACITY_TYPES = ("INSTANCE_COUNT", "CAPACITY_PERCENT")
DEFAULT_MAXIMUM_EXECUTION_SECONDS = 28800  # the API's upper bound, used when none is given


class DeploymentConfigError(ValueError):
    """A DeploymentConfig SageMaker would refuse; the message names the field and the fix."""


@dataclass(frozen=True)
class CapacitySize:
    type: str
    value: int

    def instances(self, total: int) -> int:
        """How many of ``total`` instances one step covers (at least one, at most all)."""
        if self.type == "INSTANCE_COUNT":
            return max(1, min(total, self.value))
        return max(1, min(total, math.floor(total * self.value / 100)))

    def describe(self) -> dict[str, Any]:
        return {"Type": self.type, "Value": self.value}


@dataclass(frozen=True)
class Policy:
    """What one update follows. ``kind`` is a routing type, ``ROLLING``, or ``ALL_AT_ONCE`` with no
    waits when the update named no policy (SageMaker's default blue/green)."""

    kind: str = "ALL_AT_ONCE"
    wait_interval: int = 0
    termination_wait: int = 0
    maximum_execution: int = DEFAULT_MAXIMUM_EXECUTION_SECONDS
    step: CapacitySize | None = None  # CanarySize, LinearStepSize or MaximumBatchSize
    rollback_batch: CapacitySize | None = None  # RollingUpdatePolicy.RollbackMaximumBatchSize
    alarms: tuple[str, ...] = field(default_factory=tuple)

    def active_counts(self, total: int) -> list[int]:
        """How many of a variant's ``total`` green instances take traffic after each step."""
        if self.kind == "ALL_AT_ONCE" or self.step is None:
            return [total]
        size = self.step.instances(total)
        if self.kind == "CANARY":
            return [size, total] if size < total else [total]
        return [min(total, size * n) for n in range(1, math.ceil(total / size) + 1)]

    def check_sizes(self, totals: dict[str, int]) -> None:
        """A step given as an instance count must be the share of each variant's instances SageMaker
        documents: a rolling batch 5 % to 50 %, a canary at most 50 %, a linear step 10 % to 50 %."""
        if self.step is None or self.step.type != "INSTANCE_COUNT" or self.kind not in STEP_SHARES:
            return
        field, low, what = STEP_SHARES[self.kind]
        for variant, total in sorted(totals.items()):
            if not low * total <= 100 * self.step.value <= 50 * total:
                lowest = max(1, math.ceil(total * low / 100))
                raise DeploymentConfigError(
                    f"DeploymentConfig.{field}.Value is {self.step.value} instance(s): it must be "
                    + (f"between {low}% and 50%" if low else "at most 50%")
                    + f" of variant {variant}'s {total} instance(s) "
                    + (f"(from {lowest} to {total // 2}); " if low else f"(at most {total // 2}); ")
                    + ("give the variant at least 2 instances, or " if total < 2 else "")
                    + f"use a smaller {what}"
                )


# routing kind -> (the step's field, the smallest share in percent, what the step is called)
STEP_SHARES = {
    "ROLLING": ("RollingUpdatePolicy.MaximumBatchSize", 5, "batch"),
    "CANARY": ("BlueGreenUpdatePolicy.TrafficRoutingConfiguration.CanarySize", 0, "canary"),
    "LINEAR": ("BlueGreenUpdatePolicy.TrafficRoutingConfiguration.LinearStepSize", 10, "step"),
}


def _integer(value: Any, where: str, low: int, high: int, default: int | None = None) -> int:
    if value is None:
        if default is None:
            raise DeploymentConfigError(f"{where} is required: give a whole number from {low} to {high}")
        return default
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)  # CloudFormation passes Number parameters as strings
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DeploymentConfigError(f"{where} is {value!r}: give a whole number from {low} to {high}")
    return value


def _capacity(value: Any, where: str, high_percent: int = 100, low_percent: int = 1) -> CapacitySize:
    if not isinstance(value, dict):
        raise DeploymentConfigError(
            f"{where} is required: give {{'Type': 'INSTANCE_COUNT' or 'CAPACITY_PERCENT', 'Value': <number>}}"
        )
    kind = value.get("Type")
    if kind not in CAPACITY_TYPES:
        raise DeploymentConfigError(f"{where}.Type is {kind!r}: use INSTANCE_COUNT or CAPACITY_PERCENT")
    high = high_percent if kind == "CAPACITY_PERCENT" else 1_000_000
    low = low_percent if kind == "CAPACITY_PERCENT" else 1
    return CapacitySize(kind, _integer(value.get("Value"), f"{where}.Value", low, high))


def _alarms(config: dict[str, Any]) -> tuple[str, ...]:
    rollback = config.get("AutoRollbackConfiguration")
    if rollback is None:
        return ()
    alarms = rollback.get("Alarms") if isinstance(rollback, dict) else None
    if not isinstance(alarms, list) or not 1 <= len(alarms) <= 10:
        raise DeploymentConfigError(
            "DeploymentConfig.AutoRollbackConfiguration.Alarms must list 1 to 10 alarms, like "
            "[{'AlarmName': 'my-endpoint-5xx'}]"
        )
    found = []
    for index, alarm in enumerate(alarms):
        name = alarm.get("AlarmName") if isinstance(alarm, dict) else None
        if not isinstance(name, str) or not name:
            raise DeploymentConfigError(
                f"DeploymentConfig.AutoRollbackConfiguration.Alarms[{index}].AlarmName is required: "
                "name a CloudWatch alarm of this account"
            )
        found.append(name)
    return tuple(found)


def parse(config: dict[str, Any] | None) -> Policy:
    """The policy ``DeploymentConfig`` asks for (the default blue/green when there is none)."""
    if not config:
        return Policy()
    if not isinstance(config, dict):
        raise DeploymentConfigError("DeploymentConfig must be an object")
    alarms = _alarms(config)
    blue_green, rolling = config.get("BlueGreenUpdatePolicy"), config.get("RollingUpdatePolicy")
    if blue_green and rolling:
        raise DeploymentConfigError(
            "DeploymentConfig has both BlueGreenUpdatePolicy and RollingUpdatePolicy: give one of them"
        )
    if rolling:
        where = "DeploymentConfig.RollingUpdatePolicy"
        return Policy(
            kind="ROLLING",
            wait_interval=_integer(rolling.get("WaitIntervalInSeconds"), f"{where}.WaitIntervalInSeconds", 0, 3600),
            # SageMaker keeps the old fleet only one bake after the last batch: no TerminationWaitInSeconds
            maximum_execution=_integer(
                rolling.get("MaximumExecutionTimeoutInSeconds"),
                f"{where}.MaximumExecutionTimeoutInSeconds",
                600,
                28800,
                DEFAULT_MAXIMUM_EXECUTION_SECONDS,
            ),
            step=_capacity(rolling.get("MaximumBatchSize"), f"{where}.MaximumBatchSize", 50, 5),
            rollback_batch=(
                _capacity(rolling["RollbackMaximumBatchSize"], f"{where}.RollbackMaximumBatchSize")
                if rolling.get("RollbackMaximumBatchSize")
                else None
            ),
            alarms=alarms,
        )
    if not blue_green:
        return Policy(alarms=alarms)
    where = "DeploymentConfig.BlueGreenUpdatePolicy"
    routing = blue_green.get("TrafficRoutingConfiguration")
    if not isinstance(routing, dict):
        raise DeploymentConfigError(
            f"{where}.TrafficRoutingConfiguration is required: give its Type (ALL_AT_ONCE, CANARY or LINEAR) "
            "and WaitIntervalInSeconds"
        )
    kind = routing.get("Type")
    if kind not in ROUTING_TYPES:
        raise DeploymentConfigError(
            f"{where}.TrafficRoutingConfiguration.Type is {kind!r}: use ALL_AT_ONCE, CANARY or LINEAR"
        )
    step = None
    if kind == "CANARY":
        step = _capacity(routing.get("CanarySize"), f"{where}.TrafficRoutingConfiguration.CanarySize", 50)
    elif kind == "LINEAR":
        step = _capacity(routing.get("LinearStepSize"), f"{where}.TrafficRoutingConfiguration.LinearStepSize", 50, 10)
    return Policy(
        kind=kind,
        wait_interval=_integer(
            routing.get("WaitIntervalInSeconds"), f"{where}.TrafficRoutingConfiguration.WaitIntervalInSeconds", 0, 3600
        ),
        termination_wait=_integer(
            blue_green.get("TerminationWaitInSeconds"), f"{where}.TerminationWaitInSeconds", 0, 3600, 0
        ),
        maximum_execution=_integer(
            blue_green.get("MaximumExecutionTimeoutInSeconds"),
            f"{where}.MaximumExecutionTimeoutInSeconds",
            600,
            28800,
            DEFAULT_MAXIMUM_EXECUTION_SECONDS,
        ),
        step=step,
        alarms=alarms,
    )
