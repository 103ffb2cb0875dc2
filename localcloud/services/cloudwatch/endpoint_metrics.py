"""SageMaker endpoint invocation metrics (namespace ``AWS/SageMaker``), as SageMaker publishes them.

Per InvokeEndpoint that reached a variant, with dimensions ``EndpointName`` and ``VariantName``
(and also with ``EndpointConfigName`` for the new fleet while a deployment runs):

- ``Invocations``: 1 per request (use Sum);
- ``Invocation4XXErrors`` / ``Invocation5XXErrors``: 1 if the model answered 4xx / 5xx, else 0;
- ``InvocationModelErrors``: 1 if the model did not answer 2xx (including no answer at all), else 0;
- ``InvocationsPerInstance``: 1 / the variant's instance count at the time of the request;
- ``ModelLatency``: microseconds the model took to answer, as seen from SageMaker;
- ``OverheadLatency``: microseconds SageMaker added around it.

The invoke path only updates counters under a lock (``invoked``); a thread hands each base bucket
(``metric_store.BASE_SECONDS``, scaled) to the metric store once it is over, and every read hands
over what is still open, so a query sees invocations at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from localcloud.services.cloudwatch.metric_store import MetricStore, base_length
from localcloud.services.cloudwatch.statistics import StatSet

NAMESPACE = "AWS/SageMaker"
MICROSECONDS = "Microseconds"

Source = tuple[str, str, str, str, str | None]  # account, region, endpoint, variant, endpoint config (or None)


@dataclass
class _Bucket:
    """What one variant served during one base bucket."""

    invocations: int = 0
    client_errors: int = 0
    server_errors: int = 0
    model_errors: int = 0
    per_instance: dict[int, int] = field(default_factory=dict)  # instance count -> invocations
    model_latency: StatSet = field(default_factory=StatSet)
    overhead_latency: StatSet = field(default_factory=StatSet)


def _flags(count: int, hits: int) -> StatSet:
    """``count`` values of which ``hits`` are 1 and the rest 0 (how SageMaker sends error counts)."""
    stats = StatSet()
    if hits:
        stats.add(1.0, hits)
    if count - hits:
        stats.add(0.0, count - hits)
    return stats


class EndpointMetrics:
    """The collector the invoke path feeds; one per local cloud."""

    def __init__(self, store: MetricStore):
        self.store = store
        self._lock = threading.Lock()
        self._open: dict[tuple[Source, int], _Bucket] = {}
        self._length = base_length()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="endpoint-metrics", daemon=True)
        store.add_feeder(self.flush)
        self._thread.start()

    def invoked(
        self,
        account: str,
        region: str,
        endpoint: str,
        variant: str,
        instance_count: int,
        status: int | None,
        model_microseconds: float | None,
        overhead_microseconds: float,
        config_name: str | None = None,
    ) -> None:
        """One invocation: ``status`` is the model's HTTP status, None if it never answered."""
        bucket_key = ((account, region, endpoint, variant, config_name), int(time.time() / self._length))
        with self._lock:
            bucket = self._open.get(bucket_key)
            if bucket is None:
                bucket = self._open[bucket_key] = _Bucket()
            bucket.invocations += 1
            count = max(1, instance_count or 1)
            bucket.per_instance[count] = bucket.per_instance.get(count, 0) + 1
            if status is None or status >= 500:
                bucket.server_errors += 1
            elif status >= 400:
                bucket.client_errors += 1
            if status is None or not 200 <= status < 300:
                bucket.model_errors += 1
            if model_microseconds is not None:
                bucket.model_latency.add(model_microseconds)
            bucket.overhead_latency.add(overhead_microseconds)

    # handing over to the store ---------------------------------------------------------
    def flush(self, only_finished: bool = False) -> None:
        now_index = int(time.time() / self._length)
        with self._lock:
            ready = [k for k in self._open if not only_finished or k[1] < now_index]
            taken = [(k, self._open.pop(k)) for k in ready]
        length = self._length
        for (source, index), bucket in taken:
            self._publish(source, index * length + length / 2, bucket)

    def _publish(self, source: Source, moment: float, bucket: _Bucket) -> None:
        account, region, endpoint, variant, config_name = source
        invocations = StatSet()
        invocations.add(1.0, bucket.invocations)
        per_instance = StatSet()
        for count, times in bucket.per_instance.items():
            per_instance.add(1.0 / count, times)
        metrics = [
            ("Invocations", invocations, "None"),
            ("Invocation4XXErrors", _flags(bucket.invocations, bucket.client_errors), "None"),
            ("Invocation5XXErrors", _flags(bucket.invocations, bucket.server_errors), "None"),
            ("InvocationModelErrors", _flags(bucket.invocations, bucket.model_errors), "None"),
            ("InvocationsPerInstance", per_instance, "None"),
            ("ModelLatency", bucket.model_latency, MICROSECONDS),
            ("OverheadLatency", bucket.overhead_latency, MICROSECONDS),
        ]
        dimension_sets = [(("EndpointName", endpoint), ("VariantName", variant))]
        if config_name:
            dimension_sets.append((("EndpointConfigName", config_name), *dimension_sets[0]))
        for dims in dimension_sets:
            ordered = tuple(sorted(dims))
            for name, stats, unit in metrics:
                if stats.count:
                    self.store.add((account, region, NAMESPACE, name, ordered), moment, stats, unit)

    def _run(self) -> None:
        while not self._stop.wait(self._length):
            try:
                self.flush(only_finished=True)
            except Exception:  # noqa: BLE001 - the next tick tries again; the invoke path never sees it
                import logging

                logging.getLogger(__name__).exception("endpoint metrics could not be stored")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()


def instance_count(endpoint, variant: str) -> int:
    """The variant's current instance count from the endpoint record (what InvocationsPerInstance divides by)."""
    for entry in getattr(endpoint, "production_variants", None) or []:
        if entry.get("VariantName") == variant:
            return int(entry.get("CurrentInstanceCount") or entry.get("DesiredInstanceCount") or 1)
    return 1


_COLLECTORS: dict[int, EndpointMetrics] = {}  # id(cloud) -> its collector, while it runs


def attach(cloud, metrics: EndpointMetrics) -> None:
    _COLLECTORS[id(cloud)] = metrics


def detach(cloud) -> None:
    _COLLECTORS.pop(id(cloud), None)


def record(
    cloud,
    account: str,
    region: str,
    endpoint: str,
    variant: str,
    instance_count: int,
    status: int | None,
    model_microseconds: float | None,
    overhead_microseconds: float,
    config_name: str | None = None,
) -> None:
    """What the invoke path calls once the model answered (or did not): see ``EndpointMetrics.invoked``."""
    metrics = _COLLECTORS.get(id(cloud))
    if metrics is not None:
        metrics.invoked(
            account,
            region,
            endpoint,
            variant,
            instance_count,
            status,
            model_microseconds,
            overhead_microseconds,
            config_name,
        )
