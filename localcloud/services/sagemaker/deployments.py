"""``UpdateEndpoint`` as SageMaker runs it: blue/green with traffic shifting, baking and auto-rollback.

The new (green) fleet is provisioned in full while the old (blue) one serves everything. Then, step
by step (deployment_policy), green instances are activated and take their share of traffic (the
active share of green capacity); each step bakes while the ``AutoRollbackConfiguration`` alarms are
read. When every step has baked, the blue fleet is drained (its requests in flight finish) and
stopped, and the endpoint is ``InService`` on the new configuration. An alarm in ALARM, green servers
that fail, or ``MaximumExecutionTimeoutInSeconds`` passing send all traffic back to blue, remove
green, and leave the endpoint ``InService`` on the old configuration with a ``FailureReason`` that
says why. A ``RollingUpdatePolicy`` runs as rolling.py's subclass of this deployment.

The host is the EndpointService: it owns the endpoint records, the routing and the instances.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from localcloud.core import clock
from localcloud.services.sagemaker.alarm_watch import AlarmWatch, poll_seconds
from localcloud.services.sagemaker.deployment_events import PendingSummary, PendingVariant
from localcloud.services.sagemaker.deployment_policy import Policy
from localcloud.services.sagemaker.instances import Fleet, VariantPool
from localcloud.services.sagemaker.serving.artifacts import DeploymentError


class RolledBack(Exception):
    """The deployment must go back to the old fleet; the message is the endpoint's FailureReason."""


class Superseded(Exception):
    """The endpoint was deleted, updated again, or the local cloud is stopping."""


@dataclass
class Step:
    counts: dict[str, int]  # variant -> green instances taking traffic after this step
    bakes: list[tuple[int, str]]  # (AWS seconds, which setting) baked after it


def plan(policy: Policy, totals: dict[str, int]) -> list[Step]:
    """The traffic steps: per variant how many instances are active, and what each step bakes.

    Every step bakes ``WaitIntervalInSeconds``, the last one too: SageMaker's guides give all at once
    a baking period after its one shift, a canary "a final baking period" once all traffic is on the
    green fleet, and linear shifting and rolling batches a baking period "for each step" / "for each
    batch". The last step then waits ``TerminationWaitInSeconds`` before the old fleet goes; the
    alarms are read throughout."""
    per_variant = {name: policy.active_counts(total) for name, total in totals.items()}
    length = max(len(counts) for counts in per_variant.values())
    steps = []
    for index in range(length):
        counts = {name: counts[min(index, len(counts) - 1)] for name, counts in per_variant.items()}
        bakes = [(policy.wait_interval, "WaitIntervalInSeconds")]
        if index == length - 1:
            bakes.append((policy.termination_wait, "TerminationWaitInSeconds"))
        steps.append(Step(counts, [bake for bake in bakes if bake[0] > 0]))
    return steps


def rollback_reason(config_name: str, old_config: str, alarms: list[str]) -> str:
    return (
        f"Deployment of endpoint configuration {config_name} was rolled back because the CloudWatch "
        f"alarm(s) {', '.join(alarms)} of the AutoRollbackConfiguration went into ALARM; "
        f"the endpoint serves endpoint configuration {old_config}."
    )


class Guard:
    """What stops a deployment midway: being superseded, an alarm, the execution timeout."""

    def __init__(self, cancelled: Callable[[], bool], watch: AlarmWatch, policy: Policy, config: str, old: str):
        self.cancelled = cancelled
        self.watch = watch
        self.policy = policy
        self.config = config
        self.old = old
        self.deadline = time.monotonic() + clock.local_seconds(policy.maximum_execution)
        self.tripped: list[str] = []  # once an alarm was seen in ALARM, the deployment rolls back

    def check(self) -> None:
        if self.cancelled():
            raise Superseded()
        if not self.tripped:
            self.tripped = self.watch.firing()
        if self.tripped:
            raise RolledBack(rollback_reason(self.config, self.old, self.tripped))
        if time.monotonic() > self.deadline:
            raise RolledBack(
                f"Deployment of endpoint configuration {self.config} exceeded MaximumExecutionTimeoutInSeconds "
                f"({self.policy.maximum_execution} s) and was rolled back; the endpoint serves endpoint "
                f"configuration {self.old}."
            )

    def stopped_by_check(self) -> bool:
        """For waits that poll a callable (a server coming up): True to stop them; the next check() says why."""
        try:
            self.check()
        except (RolledBack, Superseded):
            return True
        return False

    def bake(self, aws_seconds: float) -> None:
        """Wait ``aws_seconds`` (scaled), reading the alarms at least once per scaled second."""
        end = time.monotonic() + clock.local_seconds(aws_seconds)
        while True:
            self.check()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, poll_seconds()))


class BlueGreenDeployment:
    """One UpdateEndpoint from the blue fleet to ``config_name``."""

    def __init__(
        self,
        host,
        backend,
        name: str,
        runtime,
        generation: int,
        config_name: str,
        policy: Policy,
        reason: str | None = None,
    ):
        self.host = host
        self.backend = backend
        self.name = name
        self.runtime = runtime
        self.generation = generation
        self.config_name = config_name
        self.policy = policy
        self.reason = reason  # the FailureReason to keep when done (a CloudFormation rollback's)
        self.key = (backend.account_id, backend.region_name, name)
        self.blue: Fleet = runtime.active
        region = backend.region_name
        self.watch = AlarmWatch(lambda: host.cloud.client("cloudwatch", region), policy.alarms)
        self.guard = Guard(
            lambda: not host.is_current(self.key, runtime, generation),
            self.watch,
            policy,
            config_name,
            self.blue.config_name,
        )
        self.green: Fleet | None = None
        self.summary: PendingSummary | None = None

    # what users see ----------------------------------------------------------------------
    def _publish(self) -> None:
        if not self.host.update_record(self.backend, self.name, self.runtime, self.generation, self._show):
            raise Superseded()

    def _show(self, endpoint) -> None:
        endpoint.pending_deployment_summary = self.summary.describe()

    # the deployment ------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._deploy()
        except Superseded:
            self._remove_green()
        except RolledBack as rolled_back:
            self._undo(str(rolled_back))
        except DeploymentError as error:
            self._undo(self._failed_reason(error))

    def _failed_reason(self, error: DeploymentError) -> str:
        return (
            f"Update to endpoint configuration {self.config_name} failed and was rolled back; "
            f"the endpoint still serves {self.blue.config_name}: {error}"
        )

    def _undo(self, reason: str) -> None:
        """Traffic back on the old fleet, the endpoint InService on it with ``reason``."""
        self._roll_back(reason)

    def _deploy(self) -> None:
        specs, data_capture, totals = self.host.resolve(self.backend, self.config_name)
        self.summary = PendingSummary(
            self.config_name, [PendingVariant(s.variant_name, totals[s.variant_name], s.weight) for s in specs]
        )
        self.summary.phase("Creating", lambda v: f"Launching {v.desired_instances} instance(s).")
        self._publish()
        missing = self.watch.missing()
        if missing:
            raise RolledBack(
                f"Deployment of endpoint configuration {self.config_name} was rolled back: the "
                f"AutoRollbackConfiguration names CloudWatch alarm(s) {', '.join(missing)} that do not exist; "
                f"create them or fix DeploymentConfig. The endpoint serves {self.blue.config_name}."
            )
        self.guard.check()
        try:
            self.green = self.host.provision(
                self.key, self.config_name, specs, data_capture, totals, False, self.guard.stopped_by_check
            )
        except DeploymentError:
            self.guard.check()  # stopped by the guard: its reason (an alarm, the timeout), not "cancelled"
            raise
        self.guard.check()
        self.host.route(self.runtime, self.green, 0.0)
        for index, step in enumerate(plan(self.policy, totals)):
            self._activate(step, canary=self.policy.kind == "CANARY" and index == 0)
            for seconds, setting in step.bakes:
                self._bake(step, seconds, setting)
        self.guard.check()
        if not self.host.commit(self.backend, self.name, self.runtime, self.generation, self.green, self.reason):
            raise Superseded()

    def _capacity_words(self, step: Step, variant: str, canary: bool) -> str:
        count = step.counts[variant]
        which = "canary" if canary else "full" if count == self.green.instance_count(variant) else "partial"
        return f"{which} capacity of {count} instance(s)"

    def _activate(self, step: Step, canary: bool) -> None:
        self.summary.phase(
            "ActivatingTraffic",
            lambda v: f"Activating traffic on {self._capacity_words(step, v.name, canary)}.",
        )
        self._publish()
        for variant, count in step.counts.items():
            pool: VariantPool = self.green.pools[variant]
            for instance in pool.instances[:count]:
                if not instance.upstream.ping():  # an instance takes traffic only when it answers its ping
                    raise DeploymentError(instance.server.failure_reason())
            pool.activate(count)
        self.guard.check()
        active = sum(step.counts.values())
        self.host.route(self.runtime, self.green, active / sum(p.count for p in self.green.pools.values()))

    def _bake(self, step: Step, seconds: int, setting: str) -> None:
        canary = self.policy.kind == "CANARY" and step.counts != {v: p.count for v, p in self.green.pools.items()}
        self.summary.phase(
            "Baking",
            lambda v: (
                f"Baking for {seconds} seconds ({setting}) with traffic enabled on "
                f"{self._capacity_words(step, v.name, canary)}."
            ),
            step.counts,
        )
        self._publish()
        self.guard.bake(seconds)

    def _remove_green(self) -> None:
        self.host.route(self.runtime, None, 0.0)
        if self.green is not None:
            self.host.drain_and_retire(self.green)
            self.green = None

    def _roll_back(self, reason: str) -> None:
        self._remove_green()
        self.host.settle(self.backend, self.name, self.runtime, self.generation, status="InService", reason=reason)
