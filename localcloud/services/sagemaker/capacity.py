"""``UpdateEndpointWeightsAndCapacities``: new weights, and instances added or removed in place.

Weights apply at once (the router reads ``CurrentWeight``). Instance counts change while the
endpoint is ``Updating``: new instances start and take traffic only once they answer their ping;
removed ones leave the rotation, finish the requests they have, then stop. Application Auto
Scaling drives an endpoint through this same operation (``DesiredInstanceCount``).
"""

from __future__ import annotations

from typing import Any

from moto.core.utils import utcnow

from localcloud.core.errors import AwsError
from localcloud.services.sagemaker import deployment_events
from localcloud.services.sagemaker.instances import Fleet
from localcloud.services.sagemaker.serving.artifacts import DeploymentError


def _fail(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def checked_capacities(endpoint, desired: Any) -> list[dict[str, Any]]:
    """The request's DesiredWeightsAndCapacities, checked as SageMaker does; the error names the field."""
    if not isinstance(desired, list) or not desired:
        raise _fail(
            "DesiredWeightsAndCapacities must list at least one variant, like "
            '[{"VariantName": "AllTraffic", "DesiredInstanceCount": 2}]'
        )
    variants = {v["VariantName"] for v in endpoint.production_variants or []}
    seen: set[str] = set()
    for index, entry in enumerate(desired):
        where = f"DesiredWeightsAndCapacities[{index}]"
        name = entry.get("VariantName") if isinstance(entry, dict) else None
        if name in seen:
            raise _fail(f'The variant name "{name}" was non-unique within the request.')
        if name not in variants:
            raise _fail(
                f'{where}.VariantName: the variant name(s) "{name}" is/are not present within endpoint '
                f'configuration "{endpoint.endpoint_config_name}" (variants: {", ".join(sorted(variants))}).'
            )
        seen.add(name)
        weight, count = entry.get("DesiredWeight"), entry.get("DesiredInstanceCount")
        if weight is None and count is None:
            raise _fail(f"{where} needs DesiredWeight or DesiredInstanceCount (or both).")
        if weight is not None and (isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0):
            raise _fail(f"{where}.DesiredWeight is {weight!r}: give a number of at least 0.")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise _fail(
                f"{where}.DesiredInstanceCount is {count!r}: give a whole number of at least 1 "
                "(an endpoint variant keeps at least one instance)."
            )
    return desired


class CapacityUpdate:
    """One UpdateEndpointWeightsAndCapacities on the endpoint's active fleet."""

    def __init__(self, host, backend, name: str, runtime, generation: int, desired: list[dict[str, Any]]):
        self.host = host
        self.backend = backend
        self.name = name
        self.runtime = runtime
        self.generation = generation
        self.desired = desired
        self.key = (backend.account_id, backend.region_name, name)

    def start(self, endpoint) -> None:
        """Under the state lock: weights now, the endpoint Updating towards the new counts."""
        endpoint.endpoint_status = "Updating"
        endpoint.failure_reason = None
        by_name = {v["VariantName"]: v for v in endpoint.production_variants}
        for entry in self.desired:
            variant = by_name[entry["VariantName"]]
            if entry.get("DesiredWeight") is not None:
                variant["DesiredWeight"] = variant["CurrentWeight"] = float(entry["DesiredWeight"])
            count = entry.get("DesiredInstanceCount")
            if count is not None and count != variant.get("CurrentInstanceCount"):
                variant["DesiredInstanceCount"] = count
                direction = "out" if count > variant.get("CurrentInstanceCount", 0) else "in"
                variant["VariantStatus"] = [
                    {
                        "Status": "Updating",
                        "StatusMessage": f"Scaling {direction} desired instance count to {count}.",
                        "StartTime": utcnow(),
                    }
                ]
        endpoint.last_modified_time = utcnow()
        deployment_events.emit(self.backend, endpoint)

    def run(self, _backend, _name: str) -> None:
        """In a thread of its own: instances started or drained, then the endpoint InService."""
        deployed: Fleet | None = self.runtime.active
        failures = []
        cancelled = lambda: not self.host.is_current(self.key, self.runtime, self.generation)  # noqa: E731
        for entry in self.desired:
            count = entry.get("DesiredInstanceCount")
            if count is None or deployed is None:
                continue
            pool = deployed.pools[entry["VariantName"]]
            have = pool.count
            try:
                if count > have:
                    for instance in self.host.factory.launch(
                        self.key, [(pool.spec, count - have)], self.key[1], cancelled, variant_total=count
                    ):
                        pool.add(instance, active=True)
                elif count < have:
                    leaving = [i for i in pool.instances if not i.draining][count:]
                    pool.drain(leaving)
                    self.host.factory.retire(leaving)
            except DeploymentError as error:
                failures.append(f"scaling variant {pool.spec.variant_name} to {count} instance(s) failed: {error}")
        if cancelled():
            return
        reason = "; ".join(failures).capitalize() if failures else None
        self.host.settle(self.backend, self.name, self.runtime, self.generation, "InService", reason, deployed)
