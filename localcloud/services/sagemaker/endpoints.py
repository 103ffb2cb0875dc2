"""SageMaker endpoints that really serve.

moto keeps the endpoint records; this module gives them model servers. ``CreateEndpoint``,
``UpdateEndpoint`` and ``DeleteEndpoint`` are hooked on moto's SageMaker backend, so an endpoint
made by the API and one made by a CloudFormation stack behave alike. Each production variant gets a
model server (``localcloud.services.sagemaker.serving.model_server``) in the sandbox; the endpoint is ``Creating``
until every server answers ``/ping``, then ``InService`` (or ``Failed`` with the reason).
``UpdateEndpoint`` is blue/green: the new servers must be healthy before traffic moves, and if they
fail the old ones keep serving. ``POST /endpoints/<name>/invocations`` (sagemaker-runtime) is
forwarded to a variant chosen by weight or by ``TargetVariant``; when the endpoint configuration
has a ``DataCaptureConfig``, sampled requests and responses go to S3 (``serving.capture``).

What was deployed is recorded under the state folder, so a restarted local cloud brings its
endpoints back even if their configurations were replaced since.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
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
from localcloud.core.paths import PathEscape, contained
from localcloud.services.sagemaker.serving import artifacts, capture, fleet, responses
from localcloud.services.sagemaker.serving.artifacts import DeploymentError, VariantSpec
from localcloud.services.sagemaker.serving.capture import CaptureConfigError, CaptureSettings, CaptureWriter
from localcloud.services.sagemaker.serving.fleet import ModelServer, ServerFailed
from localcloud.services.sagemaker.serving.logs import LogShipper
from localcloud.services.sagemaker.serving.proxy import UpstreamUnavailable, choose_variant, forwarded_headers

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's limit for real-time endpoints
RUNNING = {"InService", "Creating", "Updating", "SystemUpdating", "RollingBack"}
INVOCABLE = {"InService", "Updating", "SystemUpdating", "RollingBack"}
RESUME_WAIT_SECONDS = 60.0  # an invocation right after a restart waits for the servers to be back
INVOKE_PATH = r"/endpoints/(?P<name>[A-Za-z0-9](?:-*[A-Za-z0-9])*)/invocations"

Key = tuple[str, str, str]  # account, region, endpoint name
Resolved = tuple[list[VariantSpec], dict[str, Any]]  # an endpoint configuration's variants and DataCaptureConfig


@dataclass
class Fleet:
    """The model servers of one endpoint configuration, one per variant."""

    config_name: str
    specs: list[VariantSpec]
    data_capture: dict[str, Any] = field(default_factory=dict)  # the configuration's DataCaptureConfig
    capture: CaptureSettings | None = None  # what that asks for, checked; None when capture is off
    servers: dict[str, ModelServer] = field(default_factory=dict)

    def weights(self, endpoint: FakeEndpoint) -> list[tuple[str, float]]:
        """Current weights from the endpoint record (UpdateEndpointWeightsAndCapacities changes them)."""
        current = {v["VariantName"]: v.get("CurrentWeight") for v in endpoint.production_variants or []}
        result = []
        for spec in self.specs:
            weight = current.get(spec.variant_name)
            result.append((spec.variant_name, float(weight) if weight is not None else spec.weight))
        return result

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


@dataclass
class Runtime:
    """What one endpoint runs now; ``generation`` changes whenever a deployment is superseded."""

    active: Fleet | None = None
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

    # lifecycle hooks (called by moto's backend, under the state lock) --------------------------
    def on_create(self, backend: SageMakerModelBackend, endpoint: FakeEndpoint) -> None:
        endpoint.endpoint_status = "Creating"
        endpoint.failure_reason = None
        runtime = self._new_runtime(_key(backend, endpoint.endpoint_name))
        self._spawn(
            self._create,
            backend,
            endpoint.endpoint_name,
            runtime,
            runtime.generation,
            endpoint.endpoint_config_name,
            None,
            None,
        )

    def on_update(self, backend: SageMakerModelBackend, endpoint: FakeEndpoint, config_name: str) -> None:
        endpoint.endpoint_status = "Updating"
        endpoint.pending_deployment_summary = {"EndpointConfigName": config_name, "StartTime": utcnow()}
        key = _key(backend, endpoint.endpoint_name)
        with self._lock:
            runtime = self._runtimes.setdefault(key, Runtime())
            runtime.generation += 1
            runtime.settled.clear()
            generation = runtime.generation
        self._spawn(self._update, backend, endpoint.endpoint_name, runtime, generation, config_name)

    def on_delete(self, backend: SageMakerModelBackend, endpoint_name: str) -> None:
        key = _key(backend, endpoint_name)
        with self._lock:
            runtime = self._runtimes.pop(key, None)
            if runtime:
                runtime.generation += 1
                runtime.settled.set()
        if runtime and runtime.active:
            self._retire(runtime.active)
        self._record_path(key).unlink(missing_ok=True)

    # deployments (background threads) ---------------------------------------------------------
    def _spawn(self, target, *args) -> None:
        threading.Thread(target=target, args=args, name=f"endpoint-{args[1]}", daemon=True).start()

    def _new_runtime(self, key: Key) -> Runtime:
        with self._lock:
            old = self._runtimes.get(key)
            runtime = Runtime(generation=(old.generation + 1) if old else 0)
            self._runtimes[key] = runtime
        if old and old.active:
            self._retire(old.active)
        return runtime

    def _is_current(self, key: Key, runtime: Runtime, generation: int) -> bool:
        return not self._stopping and self._runtimes.get(key) is runtime and runtime.generation == generation

    def _deploy(self, key: Key, resolved: Resolved, config_name: str, cancelled) -> Fleet:
        """Lay out and start a server per variant, all loading at once; healthy or DeploymentError."""
        specs, data_capture = resolved
        try:
            capture_settings = capture.settings(data_capture)
        except CaptureConfigError as error:
            raise DeploymentError(f"DataCaptureConfig of endpoint configuration {config_name}: {error}") from None
        try:
            folder = contained(self.root, key[1], key[2], f"{int(time.time())}-{uuid.uuid4().hex[:6]}", what="endpoint")
        except PathEscape as error:
            raise DeploymentError(str(error)) from None
        deployed = Fleet(config_name, specs, data_capture, capture_settings)
        try:
            for spec in specs:
                variant = contained(folder, names.VARIANT.check(spec.variant_name), what="variant")
                environment = artifacts.prepare(self.cloud.client("s3"), spec, variant / "ml")
                # the model's own environment wins; the session stands in for the execution role's
                environment = {**self.cloud.session_environment(), **environment}
                deployed.servers[spec.variant_name] = fleet.start(
                    variant, spec.variant_name, environment, self.records, spec.network_isolation
                )
                self.logs.follow(key, spec.variant_name, variant / "server.log")
            for server in deployed.servers.values():
                server.wait_ready(cancelled=cancelled)
        except (DeploymentError, ServerFailed) as error:
            self._retire(deployed)
            raise DeploymentError(str(error)) from None
        except Exception as error:
            self._retire(deployed)
            raise DeploymentError(f"the local cloud could not start the model servers: {error!r}") from error
        return deployed

    def _create(
        self,
        backend,
        name: str,
        runtime: Runtime,
        generation: int,
        config_name: str,
        recorded: Resolved | None,
        then_update: str | None,
    ) -> None:
        """Bring up an endpoint (new, or resumed after a restart when ``recorded`` is given)."""
        key = _key(backend, name)
        cancelled = lambda: not self._is_current(key, runtime, generation)  # noqa: E731
        try:
            if recorded is None:
                with self.state.lock:
                    recorded = _resolve(backend, config_name)
            deployed = self._deploy(key, recorded, config_name, cancelled)
        except DeploymentError as error:
            self._settle(backend, name, runtime, generation, status="Failed", reason=str(error))
            return
        if not self._settle(backend, name, runtime, generation, status="InService", fleet_=deployed):
            self._retire(deployed)
            return
        if then_update:
            with self.state.lock:
                endpoint = backend.endpoints.get(name)
                if endpoint is not None and self._is_current(key, runtime, generation):
                    self.on_update(backend, endpoint, then_update)
                    self.state.save_backends("sagemaker")

    def _update(self, backend, name: str, runtime: Runtime, generation: int, config_name: str) -> None:
        """Blue/green: new servers first; traffic moves only once they are all healthy."""
        key = _key(backend, name)
        cancelled = lambda: not self._is_current(key, runtime, generation)  # noqa: E731
        try:
            with self.state.lock:
                resolved = _resolve(backend, config_name)
            deployed = self._deploy(key, resolved, config_name, cancelled)
        except DeploymentError as error:
            old = runtime.active.config_name if runtime.active else "its previous configuration"
            reason = (
                f"Update to endpoint configuration {config_name} failed and was rolled back; "
                f"the endpoint still serves {old}: {error}"
            )
            self._settle(backend, name, runtime, generation, status="InService", reason=reason)
            return
        if not self._settle(backend, name, runtime, generation, status="InService", fleet_=deployed):
            self._retire(deployed)

    def _settle(
        self,
        backend,
        name: str,
        runtime: Runtime,
        generation: int,
        status: str,
        reason: str | None = None,
        fleet_: Fleet | None = None,
    ) -> bool:
        """Record the outcome if this deployment is still the endpoint's latest; False if superseded."""
        key = _key(backend, name)
        with self.state.lock:
            endpoint = backend.endpoints.get(name)
            if endpoint is None or not self._is_current(key, runtime, generation):
                return False
            if fleet_ is not None:
                if endpoint.endpoint_config_name != fleet_.config_name:
                    config = backend.endpoint_configs.get(fleet_.config_name)
                    endpoint.endpoint_config_name = fleet_.config_name
                    if config is not None:
                        endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
                previous, runtime.active = runtime.active, fleet_
                self._write_record(key, fleet_)
                if previous is not None and previous is not fleet_:
                    self._retire(previous)  # as SageMaker ends blue/green: the old fleet is gone before InService
            endpoint.endpoint_status = status
            endpoint.failure_reason = reason
            endpoint.pending_deployment_summary = None
            endpoint.last_modified_time = utcnow()
            self.state.save_backends("sagemaker")
        runtime.settled.set()
        return True

    def _retire(self, deployed: Fleet) -> None:
        self.capture.flush_soon()  # what it captured is written now, not at the next tick
        for server in deployed.servers.values():
            self.logs.unfollow(server.log_path)
            server.stop()
            shutil.rmtree(server.folder / "ml", ignore_errors=True)

    # what was deployed, for restarts --------------------------------------------------------
    def _record_path(self, key: Key) -> Path:
        return contained(self.root, key[1], f"{names.ENDPOINT.check(key[2])}.json", what="endpoint")

    def _write_record(self, key: Key, deployed: Fleet) -> None:
        record = {
            "EndpointConfigName": deployed.config_name,
            "Variants": [asdict(s) for s in deployed.specs],
            "DataCaptureConfig": deployed.data_capture,
        }
        self.state.write_json(str(self._record_path(key).relative_to(self.state.root)), record)

    def _read_record(self, key: Key) -> tuple[str, Resolved] | None:
        path = self._record_path(key)
        if not path.exists():
            return None
        record = json.loads(path.read_text())
        specs = [VariantSpec(**v) for v in record["Variants"]]
        return record["EndpointConfigName"], (specs, record.get("DataCaptureConfig") or {})

    # the service's life -----------------------------------------------------------------------
    def resume(self) -> None:
        """Restart the servers of every endpoint the restored state says is running."""
        fleet.clear_stale(self.records)
        with self.state.lock:
            for backend in _all_backends():
                for endpoint in list(backend.endpoints.values()):
                    if endpoint.endpoint_status not in RUNNING:
                        continue
                    key = _key(backend, endpoint.endpoint_name)
                    runtime = self._new_runtime(key)
                    pending = (getattr(endpoint, "pending_deployment_summary", None) or {}).get("EndpointConfigName")
                    recorded = self._read_record(key)
                    if endpoint.endpoint_status == "Creating" or recorded is None:
                        config_name, resolved = endpoint.endpoint_config_name, None
                    else:
                        config_name, resolved = recorded
                    if pending == config_name:
                        pending = None
                    self._spawn(
                        self._create,
                        backend,
                        endpoint.endpoint_name,
                        runtime,
                        runtime.generation,
                        config_name,
                        resolved,
                        pending,
                    )

    def shutdown(self) -> None:
        self._stopping = True
        with self._lock:
            runtimes, self._runtimes = list(self._runtimes.values()), {}
        for runtime in runtimes:
            runtime.settled.set()
            if runtime.active:
                for server in runtime.active.servers.values():
                    server.stop()
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

    def update_endpoint_api(self, call) -> dict[str, Any]:
        """``SageMaker.UpdateEndpoint`` over HTTP (moto has no such operation)."""
        for name in ("EndpointName", "EndpointConfigName"):
            if not isinstance(call.body.get(name), str) or not call.body[name]:
                raise AwsError("ValidationException", f"UpdateEndpoint needs {name} (a non-empty string).")
        backend = sagemaker_backends[call.account][call.region]
        with self.state.lock:
            try:
                endpoint = backend.update_endpoint(call.body["EndpointName"], call.body["EndpointConfigName"])
            except MotoValidationError as error:
                raise AwsError("ValidationException", error.message) from None
            self.state.save_backends("sagemaker")
        return {"EndpointArn": endpoint.arn}

    # sagemaker-runtime ----------------------------------------------------------------------
    def invoke(self, call) -> Response:
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
        deployed = runtime.active if runtime else None
        if endpoint.endpoint_status not in INVOCABLE or deployed is None:
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
        if target:
            if target not in deployed.servers:
                raise AwsError(
                    "ValidationError",
                    (
                        f"Target variant {target} does not exist on endpoint {name}: choose one of "
                        f"{', '.join(sorted(deployed.servers))}."
                    ),
                )
            variant = target
        elif len(deployed.servers) == 1:
            (variant,) = deployed.servers
        else:
            variant = choose_variant(deployed.weights(endpoint))
        server = deployed.servers[variant]
        try:
            answer = server.upstream.post("/invocations", call.raw, forwarded_headers(call.headers))
        except UpstreamUnavailable as error:
            return responses.model_error(
                call.region, call.account, name, variant, 500, f"{error} ({server.failure_reason()})"
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
        return responses.model_error(call.region, call.account, name, variant, answer.status, message)


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
    """What an endpoint configuration deploys: its variants, resolved, and its DataCaptureConfig."""
    specs = artifacts.resolve_config(backend, config_name)
    return specs, dict(backend.endpoint_configs[config_name].data_capture_config or {})


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


def update_endpoint(self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str) -> FakeEndpoint:
    """UpdateEndpoint, which moto lacks: validates as SageMaker does, then deploys blue/green."""
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
    service = _service()
    if service is not None:
        service.on_update(self, endpoint, endpoint_config_name)
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
    cloud.gateway.route("POST", INVOKE_PATH)(service.invoke)
    cloud.gateway.json("SageMaker", "UpdateEndpoint")(service.update_endpoint_api)
    return service
