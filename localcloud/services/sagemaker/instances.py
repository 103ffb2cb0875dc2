"""Endpoint instances: one model server per instance, and how invocations are spread over them.

On SageMaker a production variant runs ``InitialInstanceCount`` instances behind a router; here
each instance is a model server of its own (a sandboxed process with its own workers and folder).
A fleet is what one endpoint configuration deploys: for each variant, a pool of instances. The
router sends an invocation to the pool's active instance with the fewest requests outstanding
(SageMaker's ``LEAST_OUTSTANDING_REQUESTS``). An instance takes traffic only once it answered its
ping, and leaves it by draining: the router stops choosing it, the requests it already has
finish, then it stops. A starting server loads at a lower CPU priority (startup_priority.py).

Memory: every instance is a process holding the model, with its own workers. When the model's
environment does not set ``SAGEMAKER_MODEL_SERVER_WORKERS``, a variant of N instances gives each
one ``max(1, min(CPUs, 4) // N)`` workers, so the variant as a whole uses about what one server
would (one worker per instance on a two-core machine with two or more instances).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.core import names
from localcloud.core.paths import PathEscape, contained
from localcloud.services.sagemaker import startup_priority
from localcloud.services.sagemaker.serving import artifacts, fleet
from localcloud.services.sagemaker.serving.artifacts import DeploymentError, VariantSpec
from localcloud.services.sagemaker.serving.capture import CaptureSettings
from localcloud.services.sagemaker.serving.fleet import ModelServer, ServerFailed
from localcloud.services.sagemaker.serving.proxy import INVOCATION_TIMEOUT_SECONDS, choose_variant

WORKERS_VARIABLE = "SAGEMAKER_MODEL_SERVER_WORKERS"
MAX_DEFAULT_WORKERS = 4  # the model server's own cap
DRAIN_TIMEOUT_SECONDS = INVOCATION_TIMEOUT_SECONDS + 5.0  # an invocation in flight may take this long

Key = tuple[str, str, str]  # account, region, endpoint name


def workers_per_instance(environment: dict[str, str], instances: int) -> dict[str, str]:
    """The model's environment, with a worker count that keeps N instances' total near one server's."""
    if WORKERS_VARIABLE in environment or instances <= 1:
        return environment
    total = max(1, min(len(os.sched_getaffinity(0)), MAX_DEFAULT_WORKERS))
    return {**environment, WORKERS_VARIABLE: str(max(1, total // instances))}


@dataclass(eq=False)
class Instance:
    """One instance of a variant: a model server, and the requests it has outstanding."""

    server: ModelServer
    instance_id: str
    session: dict[str, str] = field(default_factory=dict)  # its environment's session, ended when it stops
    outstanding: int = 0
    draining: bool = False

    @property
    def upstream(self):
        return self.server.upstream


@dataclass
class VariantPool:
    """The instances of one variant of one fleet; ``active`` of them take traffic (the first ones)."""

    spec: VariantSpec
    instances: list[Instance] = field(default_factory=list)
    active: int = 0
    _lock: threading.Condition = field(default_factory=threading.Condition)

    @property
    def count(self) -> int:
        with self._lock:
            return sum(1 for instance in self.instances if not instance.draining)

    def acquire(self) -> Instance | None:
        """The active instance with the fewest outstanding requests, counted as busy until released."""
        with self._lock:
            candidates = [i for i in self.instances[: self.active] if not i.draining]
            if not candidates:
                return None
            chosen = min(candidates, key=lambda i: i.outstanding)
            chosen.outstanding += 1
            return chosen

    def release(self, instance: Instance) -> None:
        with self._lock:
            instance.outstanding -= 1
            self._lock.notify_all()

    def add(self, instance: Instance, active: bool) -> None:
        """Append an instance that already answered its ping; ``active``: it takes traffic at once."""
        with self._lock:
            self.instances.append(instance)
            if active:
                self.active = len(self.instances)

    def activate(self, count: int) -> None:
        with self._lock:
            self.active = max(0, min(count, len(self.instances)))

    def drain(self, instances: list[Instance], timeout: float = DRAIN_TIMEOUT_SECONDS) -> None:
        """Take ``instances`` out of rotation and return once their outstanding requests finished."""
        deadline = time.monotonic() + timeout
        with self._lock:
            for instance in instances:
                instance.draining = True
            while any(i.outstanding > 0 for i in instances) and time.monotonic() < deadline:
                self._lock.wait(0.05)
            for instance in instances:
                if instance in self.instances:
                    self.instances.remove(instance)
            self.active = min(self.active, len(self.instances))

    def drain_all(self) -> list[Instance]:
        with self._lock:
            everyone = list(self.instances)
        self.drain(everyone)
        return everyone


@dataclass
class Fleet:
    """What one endpoint configuration deploys: a pool of instances per variant."""

    config_name: str
    specs: list[VariantSpec]
    data_capture: dict[str, Any] = field(default_factory=dict)  # the configuration's DataCaptureConfig
    capture: CaptureSettings | None = None  # what that asks for, checked; None when capture is off
    pools: dict[str, VariantPool] = field(default_factory=dict)

    def weights(self, current: dict[str, float | None]) -> list[tuple[str, float]]:
        """Each variant's weight: the endpoint's current weight when it has one, else the configuration's."""
        return [
            (s.variant_name, float(current[s.variant_name]) if current.get(s.variant_name) is not None else s.weight)
            for s in self.specs
        ]

    def choose(self, current: dict[str, float | None]) -> str:
        if len(self.pools) == 1:
            return next(iter(self.pools))
        return choose_variant(self.weights(current))

    def instance_count(self, variant: str) -> int:
        pool = self.pools.get(variant)
        return pool.count if pool else 0

    def instances(self) -> list[Instance]:
        return [instance for pool in self.pools.values() for instance in pool.instances]


class InstanceFactory:
    """Lays out, starts and stops instances: the model's files in a folder of its own, the server,
    its log stream."""

    def __init__(self, cloud, root: Path, records: Path, logs, flush_captures: Callable[[], None]):
        self.cloud = cloud
        self.root = root
        self.records = records
        self.logs = logs
        self.flush_captures = flush_captures

    def start(self, key: Key, spec: VariantSpec, instances_in_variant: int, region: str) -> Instance:
        """Start one instance of ``spec`` (not yet healthy: ``wait_ready`` next)."""
        instance_id = f"i-{uuid.uuid4().hex[:17]}"  # EC2's shape, as in SageMaker's log stream names
        try:
            folder = contained(self.root, key[1], key[2], f"{int(time.time())}-{instance_id}", what="endpoint")
            variant = contained(folder, names.VARIANT.check(spec.variant_name), what="variant")
        except PathEscape as error:
            raise DeploymentError(str(error)) from None
        try:
            environment = artifacts.prepare(self.cloud.client("s3", region), spec, variant / "ml")
        except DeploymentError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        environment = workers_per_instance(environment, instances_in_variant)
        # the model's own environment wins; the session stands in for the execution role's
        session = self.cloud.session_environment()
        environment = {**session, **environment}
        # loading must not slow down the servers that serve
        niceness = startup_priority.starting_niceness()
        try:
            server = fleet.start(
                variant, spec.variant_name, environment, self.records, spec.network_isolation, spec.image, niceness
            )
        except BaseException:  # no server (its image cannot be had, say): nothing of the instance stays
            self.cloud.end_session(session)
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self.logs.follow(key, spec.variant_name, instance_id, variant / "server.log")
        return Instance(server, instance_id, session)

    def wait_ready(self, instance: Instance, cancelled: Callable[[], bool]) -> None:
        try:
            instance.server.wait_ready(cancelled=cancelled)
        except ServerFailed as error:
            raise DeploymentError(str(error)) from None
        startup_priority.serving(instance.server.process.pid)

    def launch(
        self,
        key: Key,
        specs: list[tuple[VariantSpec, int]],
        region: str,
        cancelled,
        variant_total: int | None = None,
    ) -> list[Instance]:
        """Start ``count`` instances of each spec, all loading at once; all healthy, or none left.

        ``variant_total``: how many instances the variant will run in all (workers are shared out by it)."""
        started: list[Instance] = []
        try:
            for spec, count in specs:
                for _ in range(count):
                    started.append(self.start(key, spec, variant_total or count, region))
            for instance in started:
                self.wait_ready(instance, cancelled)
        except DeploymentError:
            self.retire(started)
            raise
        except Exception as error:
            self.retire(started)
            raise DeploymentError(f"the local cloud could not start the model servers: {error!r}") from error
        return started

    def retire(self, instances: list[Instance]) -> None:
        """Stop instances (already drained, or never in rotation) and remove their model files."""
        if instances:
            self.flush_captures()  # what they captured is written now, not at the next tick
        for instance in instances:
            self.logs.unfollow(instance.server.log_path)
            instance.server.stop()
            if instance.session:
                self.cloud.end_session(instance.session)
            shutil.rmtree(instance.server.folder / "ml", ignore_errors=True)
