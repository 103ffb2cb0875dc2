"""``UpdateEndpoint`` with a ``RollingUpdatePolicy``: the fleet is replaced a batch of instances at a time.

As SageMaker documents rolling deployments, each step provisions ``MaximumBatchSize`` instances of
the new fleet, turns traffic on for them and off for as many instances of the old fleet, bakes
``WaitIntervalInSeconds`` while the ``AutoRollbackConfiguration`` alarms are read, and only then
terminates those old instances; so the endpoint never runs more than its count plus one batch. The
last batch may be smaller. When an alarm goes to ALARM, a new instance fails, or
``MaximumExecutionTimeoutInSeconds`` passes, traffic goes back to the old fleet: its instances still
running take traffic again, the ones already terminated are provisioned again
``RollbackMaximumBatchSize`` at a time (all at once by default), each batch replacing as many new
instances, and the endpoint ends ``InService`` on the old configuration with a ``FailureReason``.
"""

from __future__ import annotations

import math

from localcloud.services.sagemaker.deployment_events import PendingSummary, PendingVariant
from localcloud.services.sagemaker.deployments import BlueGreenDeployment, RolledBack, Superseded
from localcloud.services.sagemaker.instances import Fleet, VariantPool
from localcloud.services.sagemaker.serving.artifacts import DeploymentError


class RollingDeployment(BlueGreenDeployment):
    """One UpdateEndpoint that rolls from the old fleet to ``config_name`` batch by batch.

    It shares the blue/green deployment's guard (alarms, timeout, being superseded) and what it
    publishes; only the steps differ."""

    def _failed_reason(self, error: DeploymentError) -> str:
        return (
            f"Rolling update to endpoint configuration {self.config_name} failed and was rolled back; "
            f"the endpoint serves {self.blue.config_name}: {error}"
        )

    def _undo(self, reason: str) -> None:
        self._roll_back_in_batches(reason)

    # the steps ------------------------------------------------------------------------------
    def _deploy(self) -> None:
        specs, data_capture, totals = self.host.resolve(self.backend, self.config_name)
        self.totals = totals
        self.blue_totals = {variant: pool.count for variant, pool in self.blue.pools.items()}
        self.summary = PendingSummary(
            self.config_name, [PendingVariant(s.variant_name, totals[s.variant_name], s.weight) for s in specs]
        )
        self.summary.phase("Creating", "Preparing a rolling deployment.")
        self._publish()
        missing = self.watch.missing()
        if missing:
            raise RolledBack(
                f"Deployment of endpoint configuration {self.config_name} was rolled back: the "
                f"AutoRollbackConfiguration names CloudWatch alarm(s) {', '.join(missing)} that do not exist; "
                f"create them or fix DeploymentConfig. The endpoint serves {self.blue.config_name}."
            )
        self.guard.check()
        empty = {variant: 0 for variant in totals}
        self.green = self.host.provision(self.key, self.config_name, specs, data_capture, empty, False, lambda: False)
        self.host.route(self.runtime, self.green, 0.0)
        batch = self.policy.step
        steps = max(
            [math.ceil(total / batch.instances(total)) for total in totals.values()]
            + [math.ceil(total / batch.instances(total)) for total in self.blue_totals.values() if total]
        )
        for index in range(steps):
            self._step(index, final=index == steps - 1)
        self.guard.check()
        if not self.host.commit(self.backend, self.name, self.runtime, self.generation, self.green, self.reason):
            raise Superseded()

    def _step(self, index: int, final: bool) -> None:
        batch = self.policy.step
        adding = {
            v: min(batch.instances(total), total - self.green.instance_count(v)) for v, total in self.totals.items()
        }
        self.summary.phase(
            "Creating", lambda v: f"Launching {adding[v.name]} instance(s) of the new fleet (batch {index + 1})."
        )
        self._publish()
        for variant, count in adding.items():
            if count <= 0:
                continue
            pool: VariantPool = self.green.pools[variant]
            try:
                launched = self.host.factory.launch(
                    self.key, [(pool.spec, count)], self.key[1], self.guard.stopped_by_check, self.totals[variant]
                )
            except DeploymentError:
                self.guard.check()  # stopped by the guard: its reason (an alarm, the timeout), not "cancelled"
                raise
            for instance in launched:
                pool.add(instance, active=False)
        self.guard.check()
        removing = {
            v: min(batch.instances(total), self.blue.pools[v].active) if not final else self.blue.pools[v].active
            for v, total in self.blue_totals.items()
        }
        self.summary.phase(
            "ActivatingTraffic",
            f"Activating traffic on {sum(adding.values())} instance(s) of the new fleet and turning it off on "
            f"{sum(removing.values())} instance(s) of the old fleet.",
            {v: self.green.instance_count(v) for v in self.totals},
        )
        self._publish()
        for pool in self.green.pools.values():
            for instance in pool.instances[pool.active :]:
                if not instance.upstream.ping():  # an instance takes traffic only when it answers its ping
                    raise DeploymentError(instance.server.failure_reason())
            pool.activate(len(pool.instances))
        self._reroute(blue_leaving=sum(removing.values()))  # traffic moves off the old instances first
        for variant, count in removing.items():
            pool = self.blue.pools[variant]
            pool.activate(pool.active - count)
        if self.policy.wait_interval:
            active = sum(self.green.instance_count(v) for v in self.totals)
            self.summary.phase(
                "Baking",
                f"Baking for {self.policy.wait_interval} seconds (WaitIntervalInSeconds) with traffic enabled on "
                f"{active} of {sum(self.totals.values())} instance(s) of the new fleet.",
            )
            self._publish()
            self.guard.bake(self.policy.wait_interval)
        self.guard.check()
        leaving = sum(len(p.instances) - p.active for p in self.blue.pools.values())
        if leaving:
            self.summary.phase("Deleting", f"Terminating {leaving} instance(s) of the old fleet.")
            self._publish()
            self._terminate_inactive(self.blue)

    def _reroute(self, blue_leaving: int = 0, green_leaving: int = 0) -> None:
        """Traffic by active capacity: the new fleet's share is its active instances over all active ones,
        not counting those about to leave (traffic moves off them before they are taken out of rotation)."""
        green = max(0, sum(p.active for p in self.green.pools.values()) - green_leaving)
        blue = max(0, sum(p.active for p in self.blue.pools.values()) - blue_leaving)
        self.host.route(self.runtime, self.green, green / (green + blue) if green + blue else 0.0)

    def _terminate_inactive(self, deployed: Fleet) -> None:
        for pool in deployed.pools.values():
            with pool._lock:
                leaving = list(pool.instances[pool.active :])
            if leaving:
                pool.drain(leaving)
                self.host.factory.retire(leaving)

    # rollback -------------------------------------------------------------------------------
    def _roll_back_in_batches(self, reason: str) -> None:
        """The old fleet takes traffic back: its running instances at once, the terminated ones
        provisioned again a rollback batch at a time, each batch replacing as many new instances."""
        for pool in self.blue.pools.values():
            pool.activate(len(pool.instances))
        if self.green is not None:
            self._reroute()
        failures = []
        for variant, total in getattr(self, "blue_totals", {}).items():
            pool = self.blue.pools[variant]
            batch = self.policy.rollback_batch.instances(total) if self.policy.rollback_batch else total
            while pool.count < total:
                count = min(batch, total - pool.count)
                if self.summary is not None:
                    self.summary.phase("Updating", f"Rolling back: launching {count} instance(s) of the old fleet.")
                    self.host.update_record(self.backend, self.name, self.runtime, self.generation, self._show)
                try:
                    launched = self.host.factory.launch(
                        self.key, [(pool.spec, count)], self.key[1], self._superseded, total
                    )
                except DeploymentError as error:
                    failures.append(f"the old fleet's variant {variant} could not be restored in full: {error}")
                    break
                for instance in launched:
                    pool.add(instance, active=True)
                if self.green is not None:
                    self._deactivate_green(count)
        self._remove_green()
        reason = " ".join([reason, *failures])
        self.host.settle(self.backend, self.name, self.runtime, self.generation, status="InService", reason=reason)

    def _superseded(self) -> bool:
        return not self.host.is_current(self.key, self.runtime, self.generation)

    def _deactivate_green(self, count: int) -> None:
        leaving = {variant: min(count, pool.active) for variant, pool in self.green.pools.items()}
        self._reroute(green_leaving=sum(leaving.values()))
        for variant, pool in self.green.pools.items():
            pool.activate(pool.active - leaving[variant])
        self._terminate_inactive(self.green)
