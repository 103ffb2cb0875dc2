"""SageMaker endpoints that really serve.

moto keeps the endpoint records; this module gives them model servers. ``CreateEndpoint``,
``UpdateEndpoint`` and ``DeleteEndpoint`` are hooked on moto's SageMaker backend, so an endpoint
made by the API and one made by a CloudFormation stack behave alike. Each instance of each
production variant is a model server (``serving.model_server``) in the sandbox (instances.py); the
endpoint is ``Creating`` until every server answers ``/ping``, then ``InService`` (or ``Failed``
with the reason). ``UpdateEndpoint`` is a blue/green deployment that follows the endpoint's
``DeploymentConfig`` (deployments.py): the new fleet comes up in full, traffic shifts to it in
steps that bake while the auto-rollback alarms are read, and the old fleet serves until the end
(or takes all traffic back); with a ``RollingUpdatePolicy`` (rolling.py) the fleet is replaced a
batch at a time instead. ``UpdateEndpointWeightsAndCapacities`` changes weights and instance
counts in place (capacity.py). ``POST /endpoints/<name>/invocations`` (sagemaker-runtime) goes to
a variant chosen by weight or by ``TargetVariant``, then to its least busy instance; when the
endpoint configuration has a ``DataCaptureConfig``, sampled requests and responses go to S3.

What serves is recorded under the state folder (configuration, variants, instance counts), so a
restarted local cloud brings its endpoints back even if their configurations were replaced since.
A deployment cut off by a stop is not resumed: the endpoint comes back ``InService`` on what it
served, with a FailureReason saying the local cloud stopped.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError as MotoValidationError
from moto.sagemaker.models import (
    FakeEndpoint,
    FakeEndpointConfig,
    SageMakerModelBackend,
    sagemaker_backends,
)
from werkzeug.wrappers import Response

from localcloud.core import moto_seam as seam
from localcloud.core import names
from localcloud.core.errors import AwsError
from localcloud.core.paths import contained
from localcloud.services.cloudwatch import endpoint_metrics
from localcloud.services.sagemaker import deployment_events, deployment_policy
from localcloud.services.sagemaker.capacity import CapacityUpdate, checked_capacities
from localcloud.services.sagemaker.deployment_policy import DeploymentConfigError, Policy
from localcloud.services.sagemaker.deployments import BlueGreenDeployment
from localcloud.services.sagemaker.instances import Fleet, InstanceFactory, VariantPool
from localcloud.services.sagemaker.rolling import RollingDeployment
from localcloud.services.sagemaker.serving import artifacts, capture, fleet, responses
from localcloud.services.sagemaker.serving.artifacts import DeploymentError, VariantSpec
from localcloud.services.sagemaker.serving.capture import CaptureConfigError, CaptureWriter
from localcloud.services.sagemaker.serving.logs import LogShipper
from localcloud.services.sagemaker.serving.proxy import UpstreamUnavailable, forwarded_headers

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's limit for real-time endpoints
RUNNING = {"InService", "Creating", "Updating", "SystemUpdating", "RollingBack"}
INVOCABLE = {"InService", "Updating", "SystemUpdating", "RollingBack"}
RESUME_WAIT_SECONDS = 60.0  # an invocation right after a restart waits for the servers to be back
INVOKE_PATH = r"/endpoints/(?P<name>[A-Za-z0-9](?:-*[A-Za-z0-9])*)/invocations"
_RNG = random.Random()
_NO_CONFIG = object()

Key = tuple[str, str, str]  # account, region, endpoint name
Resolved = tuple[list[VariantSpec], dict[str, Any], dict[str, int]]  # variants, DataCaptureConfig, instance counts


@dataclass
class Runtime:
    """What one endpoint runs now; ``generation`` changes whenever a deployment is superseded.

    During a deployment ``incoming`` is the new fleet and takes ``incoming_share`` of the traffic."""

    active: Fleet | None = None
    incoming: Fleet | None = None
    incoming_share: float = 0.0
    generation: int = 0
    settled: threading.Event = field(default_factory=threading.Event)


class EndpointService:
    """The endpoints of one local cloud."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.state = cloud.state
        self.root = self.state.path("endpoints")
        self.records = self.root / "processes"
        self._runtimes: dict[Key, Runtime] = {}
        self._lock = threading.Lock()
        self._stopping = False
        self.logs = LogShipper(self.state)
        self.capture = CaptureWriter(lambda: cloud.client("s3"), self.logs.note)
        self.factory = InstanceFactory(cloud, self.root, self.records, self.logs, self.capture.flush_soon)

    # lifecycle hooks (called by moto's backend, under the state lock) --------------------------
    def on_create(self, backend: SageMakerModelBackend, endpoint: FakeEndpoint) -> None:
        endpoint.endpoint_status = "Creating"
        endpoint.failure_reason = None
        endpoint.data_capture_config = capture_summary(endpoint.data_capture_config)
        runtime = self._new_runtime(_key(backend, endpoint.endpoint_name))
        self._spawn(self._create, backend, endpoint.endpoint_name, runtime, runtime.generation, None, None)

    def on_update(
        self, backend: SageMakerModelBackend, endpoint: FakeEndpoint, config_name: str, restoring: bool = False
    ) -> None:
        if restoring:
            policy, keep_reason = Policy(), endpoint.failure_reason
        else:
            policy, keep_reason = deployment_policy.parse(getattr(endpoint, "last_deployment_config", None)), None
        endpoint.endpoint_status = "Updating"
        endpoint.failure_reason = None
        endpoint.pending_deployment_summary = {"EndpointConfigName": config_name, "StartTime": utcnow()}
        runtime, generation = self._next_generation(_key(backend, endpoint.endpoint_name))
        self._spawn(
            self._update, backend, endpoint.endpoint_name, runtime, generation, config_name, policy, keep_reason
        )

    def on_delete(self, backend: SageMakerModelBackend, endpoint_name: str) -> None:
        key = _key(backend, endpoint_name)
        with self._lock:
            runtime = self._runtimes.pop(key, None)
            if runtime:
                runtime.generation += 1
                runtime.settled.set()
        if runtime:
            for deployed in (runtime.incoming, runtime.active):
                if deployed is not None:
                    self.factory.retire(deployed.instances())
        self._record_path(key).unlink(missing_ok=True)

    # what deployments use (deployments.py, capacity.py) --------------------------------------
    def _spawn(self, target, *args) -> None:
        threading.Thread(target=target, args=args, name=f"endpoint-{args[1]}", daemon=True).start()

    def _new_runtime(self, key: Key) -> Runtime:
        with self._lock:
            old = self._runtimes.get(key)
            runtime = Runtime(generation=(old.generation + 1) if old else 0)
            self._runtimes[key] = runtime
        if old:
            for deployed in (old.incoming, old.active):
                if deployed is not None:
                    self.factory.retire(deployed.instances())
        return runtime

    def _next_generation(self, key: Key) -> tuple[Runtime, int]:
        with self._lock:
            runtime = self._runtimes.setdefault(key, Runtime())
            runtime.generation += 1
            runtime.settled.clear()
            return runtime, runtime.generation

    def is_current(self, key: Key, runtime: Runtime, generation: int) -> bool:
        return not self._stopping and self._runtimes.get(key) is runtime and runtime.generation == generation

    def resolve(self, backend, config_name: str) -> Resolved:
        with self.state.lock:
            return _resolve(backend, config_name)

    def provision(
        self,
        key: Key,
        config_name: str,
        specs: list[VariantSpec],
        data_capture: dict[str, Any],
        counts: dict[str, int],
        active: bool,
        cancelled,
    ) -> Fleet:
        """A fleet of ``counts`` instances per variant, every one healthy (else DeploymentError)."""
        try:
            capture_settings = capture.settings(data_capture)
        except CaptureConfigError as error:
            raise DeploymentError(f"DataCaptureConfig of endpoint configuration {config_name}: {error}") from None
        started = self.factory.launch(key, [(spec, counts[spec.variant_name]) for spec in specs], key[1], cancelled)
        deployed = Fleet(config_name, specs, data_capture, capture_settings)
        remaining = list(started)
        for spec in specs:
            pool = deployed.pools[spec.variant_name] = VariantPool(spec)
            for _ in range(counts[spec.variant_name]):
                pool.add(remaining.pop(0), active)
        return deployed

    def route(self, runtime: Runtime, incoming: Fleet | None, share: float) -> None:
        """Send ``share`` of the endpoint's traffic to ``incoming`` (the rest to the active fleet)."""
        with self._lock:
            runtime.incoming, runtime.incoming_share = incoming, share if incoming is not None else 0.0

    def drain_and_retire(self, deployed: Fleet) -> None:
        """Stop a fleet that no longer takes traffic once its requests in flight finished."""
        retired = []
        for pool in deployed.pools.values():
            retired.extend(pool.drain_all())
        self.factory.retire(retired)

    def update_record(self, backend, name: str, runtime: Runtime, generation: int, change) -> bool:
        """Apply ``change`` to the endpoint's record and announce it; False if the deployment was superseded."""
        key = _key(backend, name)
        with self.state.lock:
            endpoint = backend.endpoints.get(name)
            if endpoint is None or not self.is_current(key, runtime, generation):
                return False
            change(endpoint)
            endpoint.last_modified_time = utcnow()
            deployment_events.emit(backend, endpoint)
            self.state.save_backends("sagemaker")
        return True

    def commit(self, backend, name: str, runtime: Runtime, generation: int, green: Fleet, reason=None) -> bool:
        """All traffic on ``green``: the endpoint is InService on its configuration, the old fleet drains."""
        return self.settle(backend, name, runtime, generation, status="InService", reason=reason, fleet_=green)

    def settle(
        self,
        backend,
        name: str,
        runtime: Runtime,
        generation: int,
        status: str,
        reason: str | None = None,
        fleet_: Fleet | None = None,
        modified: bool = True,
    ) -> bool:
        """Record the outcome if this deployment is still the endpoint's latest; False if superseded.

        ``modified``: False when nothing a user sees changed (a restart bringing back what served), so
        LastModifiedTime stays."""
        key = _key(backend, name)
        previous = None
        with self.state.lock:
            endpoint = backend.endpoints.get(name)
            if endpoint is None or not self.is_current(key, runtime, generation):
                return False
            announce = endpoint.endpoint_status == "Updating" or getattr(endpoint, "pending_deployment_summary", None)
            if fleet_ is not None:
                if endpoint.endpoint_config_name != fleet_.config_name or not endpoint.production_variants:
                    config = backend.endpoint_configs.get(fleet_.config_name)
                    endpoint.endpoint_config_name = fleet_.config_name
                    if config is not None:
                        endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
                _show_instance_counts(endpoint, fleet_)
                endpoint.data_capture_config = capture_summary(fleet_.data_capture)
                with self._lock:
                    previous, runtime.active = runtime.active, fleet_
                    runtime.incoming, runtime.incoming_share = None, 0.0
                self._write_record(key, fleet_)
            endpoint.endpoint_status = status
            endpoint.failure_reason = reason
            endpoint.pending_deployment_summary = None
            if modified:
                endpoint.last_modified_time = utcnow()
            if announce:
                deployment_events.emit(backend, endpoint)
            self.state.save_backends("sagemaker")
        runtime.settled.set()
        if previous is not None and previous is not fleet_:
            self.drain_and_retire(previous)  # as SageMaker ends blue/green: the old fleet goes last
        return True

    # deployments (background threads) ---------------------------------------------------------
    def _create(
        self,
        backend,
        name: str,
        runtime: Runtime,
        generation: int,
        recorded: tuple[str, Resolved] | None,
        reason,
        modified: bool = True,
    ) -> None:
        """Bring up an endpoint (new, or resumed after a restart when ``recorded`` is given; ``modified``
        False when it comes back as it was)."""
        key = _key(backend, name)
        cancelled = lambda: not self.is_current(key, runtime, generation)  # noqa: E731
        try:
            if recorded is None:
                with self.state.lock:
                    config_name = backend.endpoints[name].endpoint_config_name
                    resolved = _resolve(backend, config_name)
            else:
                config_name, resolved = recorded
            specs, data_capture, counts = resolved
            deployed = self.provision(key, config_name, specs, data_capture, counts, True, cancelled)
        except (DeploymentError, KeyError) as error:
            self.settle(backend, name, runtime, generation, status="Failed", reason=str(error))
            return
        if not self.settle(backend, name, runtime, generation, "InService", reason, deployed, modified):
            self.factory.retire(deployed.instances())

    def _update(
        self, backend, name: str, runtime: Runtime, generation: int, config_name: str, policy: Policy, reason
    ) -> None:
        if runtime.active is None:  # a restart is still bringing the old fleet back
            runtime.settled.wait(RESUME_WAIT_SECONDS)
        kind = RollingDeployment if policy.kind == "ROLLING" else BlueGreenDeployment
        kind(self, backend, name, runtime, generation, config_name, policy, reason).run()

    # what serves, for restarts ----------------------------------------------------------------
    def _record_path(self, key: Key) -> Path:
        return contained(self.root, key[1], f"{names.ENDPOINT.check(key[2])}.json", what="endpoint")

    def _write_record(self, key: Key, deployed: Fleet) -> None:
        record = {
            "EndpointConfigName": deployed.config_name,
            "Variants": [asdict(s) for s in deployed.specs],
            "DataCaptureConfig": deployed.data_capture,
            "InstanceCounts": {variant: deployed.instance_count(variant) for variant in deployed.pools},
        }
        self.state.write_json(str(self._record_path(key).relative_to(self.state.root)), record)

    def _read_record(self, key: Key) -> tuple[str, Resolved] | None:
        path = self._record_path(key)
        if not path.exists():
            return None
        record = json.loads(path.read_text())
        specs = [VariantSpec(**v) for v in record["Variants"]]
        counts = {s.variant_name: int(record.get("InstanceCounts", {}).get(s.variant_name, 1)) for s in specs}
        return record["EndpointConfigName"], (specs, record.get("DataCaptureConfig") or {}, counts)

    # the service's life -----------------------------------------------------------------------
    def resume(self) -> None:
        """Restart the servers of every endpoint the restored state says is running.

        A deployment or capacity change the stop cut off is not resumed: the endpoint comes back on
        what it served before (its record), InService, with a reason saying the local cloud stopped."""
        fleet.clear_stale(self.records)
        with self.state.lock:
            for backend in _all_backends():
                for endpoint in list(backend.endpoints.values()):
                    if endpoint.endpoint_status not in RUNNING:
                        continue
                    key = _key(backend, endpoint.endpoint_name)
                    runtime = self._new_runtime(key)
                    recorded = self._read_record(key)
                    reason = None
                    unchanged = endpoint.endpoint_status == "InService" and recorded is not None
                    if endpoint.endpoint_status == "Creating" or recorded is None:
                        recorded = None
                    elif endpoint.endpoint_status != "InService":
                        reason = _cut_off_reason(endpoint, recorded[0])
                        endpoint.endpoint_config_name = recorded[0]
                    elif endpoint.failure_reason:
                        reason = endpoint.failure_reason
                    self._spawn(
                        self._create,
                        backend,
                        endpoint.endpoint_name,
                        runtime,
                        runtime.generation,
                        recorded,
                        reason,
                        not unchanged,
                    )

    def shutdown(self) -> None:
        self._stopping = True
        with self._lock:
            runtimes, self._runtimes = list(self._runtimes.values()), {}
        for runtime in runtimes:
            runtime.settled.set()
            for deployed in (runtime.incoming, runtime.active):
                if deployed is not None:
                    for instance in deployed.instances():
                        instance.server.stop()
        self.capture.close()
        self.logs.stop()
        self.shut_down = True  # moto's patched methods stop calling back into it

    def wait_until_settled(self, account: str, region: str, name: str, timeout: float) -> str:
        """Block until the endpoint's deployment finished; returns its status (for callers that
        must not race ahead, like a stack deploy waiting for the endpoint)."""
        runtime = self._runtimes.get((account, region, name))
        if runtime is not None:
            runtime.settled.wait(timeout)
        endpoint = sagemaker_backends[account][region].endpoints.get(name)
        return endpoint.endpoint_status if endpoint is not None else "Deleted"

    # the API ------------------------------------------------------------------------------------
    def update_endpoint_api(self, call) -> dict[str, Any]:
        """``SageMaker.UpdateEndpoint`` over HTTP (moto has no such operation), with its DeploymentConfig."""
        for name in ("EndpointName", "EndpointConfigName"):
            if not isinstance(call.body.get(name), str) or not call.body[name]:
                raise AwsError("ValidationException", f"UpdateEndpoint needs {name} (a non-empty string).")
        deployment_config = call.body.get("DeploymentConfig")
        try:
            deployment_policy.parse(deployment_config)
        except DeploymentConfigError as error:
            raise AwsError("ValidationException", str(error)) from None
        backend = sagemaker_backends[call.account][call.region]
        with self.state.lock:
            endpoint = backend.endpoints.get(call.body["EndpointName"])
            kept = _NO_CONFIG
            if endpoint is not None and endpoint.endpoint_status == "InService":
                kept = getattr(endpoint, "last_deployment_config", _NO_CONFIG)
                if deployment_config:
                    endpoint.last_deployment_config = deployment_config
                elif not call.body.get("RetainDeploymentConfig") and hasattr(endpoint, "last_deployment_config"):
                    del endpoint.last_deployment_config
            try:
                endpoint = backend.update_endpoint(call.body["EndpointName"], call.body["EndpointConfigName"])
            except MotoValidationError as error:
                if endpoint is not None:  # a refused update leaves the endpoint's DeploymentConfig as it was
                    if kept is _NO_CONFIG:
                        endpoint.__dict__.pop("last_deployment_config", None)
                    else:
                        endpoint.last_deployment_config = kept
                raise AwsError("ValidationException", error.message) from None
        return {"EndpointArn": endpoint.arn}  # the gateway makes it durable before this answer

    def update_weights_and_capacities_api(self, call) -> dict[str, Any]:
        """``SageMaker.UpdateEndpointWeightsAndCapacities``: weights at once, instances started or drained."""
        name = call.body.get("EndpointName")
        if not isinstance(name, str) or not name:
            raise AwsError("ValidationException", "UpdateEndpointWeightsAndCapacities needs EndpointName.")
        backend = sagemaker_backends[call.account][call.region]
        with self.state.lock:
            endpoint = backend.endpoints.get(name)
            if endpoint is None:
                raise AwsError("ValidationException", f'Could not find endpoint "{_endpoint_arn(backend, name)}".')
            if endpoint.endpoint_status != "InService":
                raise AwsError(
                    "ValidationException",
                    f'Cannot update endpoint "{endpoint.arn}" while it is {endpoint.endpoint_status}: '
                    "wait until it is InService.",
                )
            desired = checked_capacities(endpoint, call.body.get("DesiredWeightsAndCapacities"))
            runtime, generation = self._next_generation(_key(backend, name))
            update = CapacityUpdate(self, backend, name, runtime, generation, desired)
            update.start(endpoint)
        self._spawn(update.run, backend, name)
        return {"EndpointArn": endpoint.arn}

    # sagemaker-runtime ----------------------------------------------------------------------
    def _choose(self, runtime: Runtime, endpoint, target: str | None) -> tuple[Fleet, str]:
        """The fleet (old or new, by the deployment's share) and the variant an invocation goes to."""
        deployed, incoming = runtime.active, runtime.incoming
        if incoming is not None and runtime.incoming_share > 0 and _RNG.random() < runtime.incoming_share:
            deployed = incoming
        if target:
            for candidate in (deployed, runtime.active, incoming):
                if candidate is not None and target in candidate.pools:
                    return candidate, target
            known = sorted(set(deployed.pools) | set(incoming.pools if incoming else ()))
            raise AwsError(
                "ValidationError",
                f"Target variant {target} does not exist on endpoint {endpoint.endpoint_name}: choose one of "
                f"{', '.join(known)}.",
            )
        current = {v["VariantName"]: v.get("CurrentWeight") for v in endpoint.production_variants or []}
        return deployed, deployed.choose(current if deployed is runtime.active else {})

    def invoke(self, call) -> Response:
        started = time.perf_counter()
        name = call.match["name"]
        if len(call.raw) > MAX_PAYLOAD_BYTES:
            raise AwsError(
                "ValidationError",
                (
                    f"Request payload of {len(call.raw)} bytes exceeds the InvokeEndpoint limit of "
                    f"{MAX_PAYLOAD_BYTES} bytes (6 MB): send fewer rows per request, or use batch transform "
                    "or asynchronous inference for large payloads."
                ),
            )
        endpoint = _runtime_backend(call.account, call.region).endpoints.get(name)
        if endpoint is None:
            raise AwsError("ValidationError", f"Endpoint {name} of account {call.account} not found.")
        runtime = self._runtimes.get((call.account, call.region, name))
        if runtime is not None and runtime.active is None and endpoint.endpoint_status in INVOCABLE:
            runtime.settled.wait(RESUME_WAIT_SECONDS)  # just restarted: the servers are coming back
        if endpoint.endpoint_status not in INVOCABLE or runtime is None or runtime.active is None:
            detail = f": {endpoint.failure_reason}" if endpoint.failure_reason else ""
            raise AwsError(
                "ValidationError",
                (
                    f"Endpoint {name} of account {call.account} is {endpoint.endpoint_status}, "
                    f"not InService{detail}. "
                    "Wait until DescribeEndpoint reports InService (boto3 waiter 'endpoint_in_service')."
                ),
            )
        target = call.headers.get("x-amzn-sagemaker-target-variant")
        for _ in range(3):  # a fleet that drains between the choice and the instance: choose again
            deployed, variant = self._choose(runtime, endpoint, target)
            pool = deployed.pools[variant]
            instance = pool.acquire()
            if instance is not None:
                break
        else:
            return responses.model_error(
                call.region,
                call.account,
                name,
                variant,
                503,
                f"no instance of variant {variant} takes traffic now",
                None,
            )
        sent, answer = time.perf_counter(), None
        try:
            answer = instance.upstream.post("/invocations", call.raw, forwarded_headers(call.headers))
        except UpstreamUnavailable as error:
            return responses.model_error(
                call.region,
                call.account,
                name,
                variant,
                500,
                f"{error} ({instance.server.failure_reason()})",
                instance.instance_id,
            )
        finally:
            pool.release(instance)
            endpoint_metrics.record(  # CloudWatch's AWS/SageMaker metrics: counters under a lock, no I/O
                self.cloud,
                call.account,
                call.region,
                name,
                variant,
                endpoint_metrics.instance_count(endpoint, variant),
                answer.status if answer is not None else None,
                (time.perf_counter() - sent) * 1e6 if answer is not None else None,
                (sent - started) * 1e6,
                deployed.config_name if deployed is runtime.incoming else None,
            )
        if 200 <= answer.status < 300:
            if deployed.capture is not None:
                self.capture.record(
                    (call.account, call.region, name),
                    variant,
                    deployed.capture,
                    call.raw,
                    call.headers.get("content-type"),
                    answer.body,
                    answer.content_type,
                    call.headers.get("x-amzn-sagemaker-inference-id"),
                )
            return responses.success(answer.body, answer.content_type, variant, answer.custom_attributes)
        message = answer.body.decode("utf-8", errors="replace").strip()
        return responses.model_error(
            call.region, call.account, name, variant, answer.status, message, instance.instance_id
        )


def capture_summary(data_capture: dict[str, Any] | None) -> dict[str, Any] | None:
    """DescribeEndpoint's ``DataCaptureConfig`` (SageMaker's DataCaptureConfigSummary) for what an
    endpoint configuration captures; None (left out) when it has no DataCaptureConfig."""
    if not data_capture:
        return None
    if "CaptureStatus" in data_capture:  # already a summary (an endpoint restored from state)
        return data_capture
    enabled = data_capture.get("EnableCapture", True) is True
    summary = {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": data_capture.get("InitialSamplingPercentage"),
        "DestinationS3Uri": data_capture.get("DestinationS3Uri"),
        "KmsKeyId": data_capture.get("KmsKeyId") or None,
    }
    return {key: value for key, value in summary.items() if value is not None}


def _show_instance_counts(endpoint, deployed: Fleet) -> None:
    """DescribeEndpoint's Current/DesiredInstanceCount: the instances each variant runs."""
    for variant in endpoint.production_variants or []:
        if variant["VariantName"] in deployed.pools:
            count = deployed.instance_count(variant["VariantName"])
            variant["CurrentInstanceCount"] = variant["DesiredInstanceCount"] = count
            variant.pop("VariantStatus", None)


def _cut_off_reason(endpoint, served: str) -> str:
    pending = (getattr(endpoint, "pending_deployment_summary", None) or {}).get("EndpointConfigName")
    what = f"the deployment of endpoint configuration {pending}" if pending else "a capacity update"
    return (
        f"The local cloud stopped during {what}, which did not finish; the endpoint serves endpoint "
        f"configuration {served} as before. Update the endpoint again to retry."
    )


def _runtime_backend(account: str, region: str) -> SageMakerModelBackend:
    """The account's SageMaker backend without moto's global lock once it exists: every invocation
    looks it up, and BackendDict's own lookup locks and scans all backends (moto 5.2.5)."""
    accounts = dict.get(sagemaker_backends, account) or sagemaker_backends[account]
    return dict.get(accounts, region) or accounts[region]


# moto hooks ---------------------------------------------------------------------------------


def _service() -> EndpointService | None:
    """The running cloud's endpoint service, which moto's patched methods call back into."""
    cloud = seam.bound()
    if cloud is None:
        return None
    try:
        service = cloud.service(EndpointService)
    except LookupError:
        return None
    return None if getattr(service, "shut_down", False) else service


_PATCH_LOCK = threading.Lock()


def _resolve(backend: SageMakerModelBackend, config_name: str) -> Resolved:
    """What an endpoint configuration deploys: its variants, resolved, its DataCaptureConfig, and how
    many instances each variant runs (InitialInstanceCount)."""
    specs = artifacts.resolve_config(backend, config_name)
    config = backend.endpoint_configs[config_name]
    counts = {variant["VariantName"]: _instance_count(variant) for variant in config.production_variants or []}
    return specs, dict(config.data_capture_config or {}), counts


def _instance_count(variant: dict[str, Any]) -> int:
    raw = variant.get("InitialInstanceCount") or 1
    try:
        return max(1, int(raw))
    except (TypeError, ValueError):
        raise DeploymentError(
            f"InitialInstanceCount of variant {variant['VariantName']!r} is {raw!r}: use a whole number >= 1"
        ) from None


def _key(backend: SageMakerModelBackend, name: str) -> Key:
    return backend.account_id, backend.region_name, name


def _all_backends():
    for account_backends in list(sagemaker_backends.values()):
        yield from list(account_backends.values())


def _endpoint_arn(backend, name: str) -> str:
    return FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)


def _checked(*pairs: tuple[names.Rule, object]) -> None:
    """AWS's validation error for the first bad name, as moto's own error (so moto's API and
    CloudFormation both report it): an endpoint's name becomes its folder."""
    problems = [problem for rule, value in pairs for problem in rule.problems(value)]
    if problems:
        raise MotoValidationError(names.invalid(problems).message)


def _create_model(original):
    def create_model(self, model_name: str, *args, **kwargs):
        _checked((names.MODEL, model_name))
        return original(self, model_name, *args, **kwargs)

    return create_model


def _create_endpoint_config(original):
    def create_endpoint_config(self, endpoint_config_name: str, production_variants, *args, **kwargs):
        variants = [
            (names.VARIANT.at(f"productionVariants.{i}.member.variantName"), v.get("VariantName"))
            for i, v in enumerate(production_variants or [], 1)
        ]
        _checked((names.ENDPOINT_CONFIG, endpoint_config_name), *variants)
        return original(self, endpoint_config_name, production_variants, *args, **kwargs)

    return create_endpoint_config


def _create_endpoint(original):
    def create_endpoint(self, endpoint_name: str, endpoint_config_name: str, tags: list[dict[str, str]]):
        _checked((names.ENDPOINT, endpoint_name), (names.ENDPOINT_CONFIG, endpoint_config_name))
        if endpoint_name in self.endpoints:
            raise MotoValidationError(
                f'Cannot create already existing endpoint "{_endpoint_arn(self, endpoint_name)}".'
            )
        endpoint = original(self, endpoint_name=endpoint_name, endpoint_config_name=endpoint_config_name, tags=tags)
        service = _service()
        if service is not None:
            service.on_create(self, endpoint)
        return endpoint

    return create_endpoint


def _delete_endpoint(original):
    def delete_endpoint(self, endpoint_name: str) -> None:
        original(self, endpoint_name)
        service = _service()
        if service is not None:
            service.on_delete(self, endpoint_name)

    return delete_endpoint


def update_endpoint(
    self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, restoring: bool = False
) -> FakeEndpoint:
    """UpdateEndpoint, which moto lacks: validates as SageMaker does, then deploys blue/green.

    ``restoring``: a CloudFormation rollback putting the previous configuration back (cfn.py): all at
    once and unguarded, keeping the FailureReason that says why the update was rolled back."""
    endpoint = self.endpoints.get(endpoint_name)
    if endpoint is None:
        raise MotoValidationError(f'Could not find endpoint "{_endpoint_arn(self, endpoint_name)}".')
    if endpoint_config_name not in self.endpoint_configs:
        arn = FakeEndpointConfig.arn_formatter(endpoint_config_name, self.account_id, self.region_name)
        raise MotoValidationError(f'Could not find endpoint configuration "{arn}".')
    if endpoint.endpoint_status != "InService":
        raise MotoValidationError(
            f'Cannot update endpoint "{_endpoint_arn(self, endpoint_name)}" '
            f"while it is {endpoint.endpoint_status}: wait until it is InService."
        )
    try:
        policy = deployment_policy.parse(getattr(endpoint, "last_deployment_config", None))
    except DeploymentConfigError as error:
        raise MotoValidationError(str(error)) from None
    if not restoring:
        try:
            variants = self.endpoint_configs[endpoint_config_name].production_variants or []
            policy.check_sizes({v["VariantName"]: _instance_count(v) for v in variants})
        except (DeploymentConfigError, DeploymentError) as error:
            raise MotoValidationError(str(error)) from None
    service = _service()
    if service is not None:
        service.on_update(self, endpoint, endpoint_config_name, restoring)
    else:
        config = self.endpoint_configs[endpoint_config_name]
        endpoint.endpoint_config_name = endpoint_config_name
        endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
    return endpoint


def patch_moto() -> None:
    """Hook moto's SageMaker backend once per process.

    CloudFormation's SageMaker resources call these same backend methods, so stacks get
    serving endpoints too (and a stack update that changes the configuration calls
    ``update_endpoint``)."""
    serving = "moto running endpoints (it records them only and answers invocations with a fixed body)"
    with _PATCH_LOCK:
        seam.patch(
            SageMakerModelBackend,
            "create_model",
            wrap=_create_model,
            why="a model name becomes a folder: SageMaker's name pattern is checked first",
            until="moto validating ModelName",
        )
        seam.patch(
            SageMakerModelBackend,
            "create_endpoint_config",
            wrap=_create_endpoint_config,
            why="endpoint config and variant names are checked against SageMaker's patterns",
            until="moto validating EndpointConfigName and VariantName",
        )
        artifacts.record_network_isolation()
        seam.patch(
            SageMakerModelBackend,
            "create_endpoint",
            wrap=_create_endpoint,
            why="an endpoint starts a model server per variant and is Creating until it answers /ping",
            until=serving,
        )
        seam.patch(
            SageMakerModelBackend,
            "delete_endpoint",
            wrap=_delete_endpoint,
            why="deleting an endpoint stops its model servers",
            until=serving,
        )
        seam.patch(
            SageMakerModelBackend,
            "update_endpoint",
            value=update_endpoint,
            why="UpdateEndpoint is a blue/green deployment: new servers first, old ones kept if the new fail",
            until=serving,
        )


def install(cloud) -> EndpointService:
    patch_moto()
    service = cloud.register(EndpointService(cloud))
    cloud.gateway.route("POST", INVOKE_PATH, changes_state=False)(service.invoke)  # captured data goes through S3
    cloud.gateway.json("SageMaker", "UpdateEndpoint")(service.update_endpoint_api)
    cloud.gateway.json("SageMaker", "UpdateEndpointWeightsAndCapacities")(service.update_weights_and_capacities_api)
    return service
