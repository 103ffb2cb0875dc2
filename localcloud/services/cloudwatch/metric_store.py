"""Where CloudWatch metrics live: statistic sets per series and per base bucket, kept in memory and
appended to one log in the state folder.

moto keeps every ``PutMetricData`` value as an object in a list that it pickles with every snapshot
and aggregates from the first datapoint instead of period boundaries, without percentiles. Here a
series (namespace, metric name, the exact set of dimensions) holds one ``StatSet`` per base bucket
of ``BASE_SECONDS`` AWS seconds, which is ``BASE_SECONDS / LOCALCLOUD_TIME_SCALE`` real seconds
(``core.clock``). A query's ``Period`` is read the same way: Period 60 groups the buckets of
``60 / scale`` real seconds, each datapoint stamped with the wall-clock start of its group.

Durability: each addition is one appended JSON line (a write costs the same however much is kept);
a restart replays the log, drops what is older than ``RETENTION_SECONDS`` (scaled) and rewrites it.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from localcloud.core import clock
from localcloud.core.state import atomic_write
from localcloud.services.cloudwatch.statistics import StatSet

log = logging.getLogger("localcloud.services.cloudwatch.metric_store")
BASE_SECONDS = 10  # the finest period kept (AWS seconds); CloudWatch's own finest standard period is 60
RETENTION_SECONDS = 86400  # AWS seconds of metrics kept (CloudWatch keeps 1-minute data for 15 days)
FINE_SECONDS = 3 * 3600  # AWS seconds kept in base buckets; older data is merged into 5-minute buckets,
COARSE_SECONDS = 300  # as CloudWatch keeps older data at coarser periods (it bounds memory under load)
LOG_FILE = "metrics.jsonl"
COMPACT_BYTES = 32 * 1024 * 1024  # the log is rewritten from memory when it grew by this and thrice its live size

Dimensions = tuple[tuple[str, str], ...]  # sorted (name, value) pairs
SeriesKey = tuple[str, str, str, str, Dimensions]  # account, region, namespace, metric name, dimensions


def dimensions_of(pairs: Iterable[dict[str, str]] | None) -> Dimensions:
    return tuple(sorted((d["Name"], d["Value"]) for d in pairs or []))


def base_length() -> float:
    """Real seconds of one base bucket under the current time scale."""
    return clock.local_seconds(BASE_SECONDS)


def bucket_start(moment: float, length: float) -> float:
    return round(math.floor(moment / length + 1e-9) * length, 6)


@dataclass
class Series:
    unit: str = "None"
    buckets: dict[float, StatSet] = field(default_factory=dict)  # wall-clock bucket start -> statistics
    last_put: float = 0.0


class MetricStore:
    """Every metric of one local cloud, all accounts and regions."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._series: dict[SeriesKey, Series] = {}
        self._feeders: list[Callable[[], None]] = []
        self._adds = 0
        self._written = 0  # bytes appended since the log was last rewritten
        self._live = self._load()  # bytes of the log as last rewritten
        self._log = open(self.folder / LOG_FILE, "a", encoding="utf-8")  # noqa: SIM115 - open for the store's life

    # writing ----------------------------------------------------------------------------
    def add(self, key: SeriesKey, moment: float, stats: StatSet, unit: str | None = None) -> None:
        """Merge ``stats`` into the base bucket holding ``moment`` (wall-clock epoch seconds)."""
        start = bucket_start(moment, base_length())
        line = json.dumps({"k": [*key[:4], [list(d) for d in key[4]]], "t": start, "u": unit, **stats.to_json()})
        with self._lock:
            self._merge(key, start, stats, unit)
            self._log.write(line + "\n")
            self._log.flush()
            self._adds += 1
            self._written += len(line) + 1
            if self._adds % 1000 == 0:
                self._prune(time.time())
            if self._written > max(COMPACT_BYTES, 3 * self._live):
                self._compact()

    def _merge(self, key: SeriesKey, start: float, stats: StatSet, unit: str | None) -> None:
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = Series()
        if unit:
            series.unit = unit
        existing = series.buckets.get(start)
        if existing is None:
            series.buckets[start] = existing = StatSet()
        existing.merge(stats)
        series.last_put = max(series.last_put, start)

    def _prune(self, now: float) -> None:
        """Drop what is past retention; merge base buckets older than ``FINE_SECONDS`` into coarse ones."""
        oldest = now - clock.local_seconds(RETENTION_SECONDS)
        coarse_before = now - clock.local_seconds(FINE_SECONDS)
        coarse = clock.local_seconds(COARSE_SECONDS)
        for key in list(self._series):
            series = self._series[key]
            for start in [s for s in series.buckets if s < coarse_before]:
                if start < oldest:
                    del series.buckets[start]
                    continue
                into = bucket_start(start, coarse)
                if into != start:
                    target = series.buckets.get(into)
                    if target is None:
                        series.buckets[into] = target = StatSet()
                    target.merge(series.buckets.pop(start))
            if not series.buckets:
                del self._series[key]

    # reading ----------------------------------------------------------------------------
    def add_feeder(self, feed: Callable[[], None]) -> None:
        """``feed()`` is called before every read: it hands over what it aggregated in memory."""
        self._feeders.append(feed)

    def _feed(self) -> None:
        for feed in self._feeders:
            feed()

    def datapoints(
        self, key: SeriesKey, start: float, end: float, period: int, unit: str | None = None
    ) -> list[tuple[float, StatSet, str]]:
        """(period start, statistics, unit) for each period of ``period`` AWS seconds holding data."""
        self._feed()
        length = clock.local_seconds(period)
        with self._lock:
            series = self._series.get(key)
            if series is None or (unit and unit != series.unit):
                return []
            groups: dict[float, StatSet] = {}
            for begin, stats in series.buckets.items():
                if start <= begin < end:
                    group = bucket_start(begin, length)
                    merged = groups.get(group)
                    if merged is None:
                        groups[group] = merged = StatSet()
                    merged.merge(stats)
            return [(begin, groups[begin], series.unit) for begin in sorted(groups)]

    def series(self, account: str, region: str, since: float | None = None) -> list[SeriesKey]:
        """Every series of an account and region (with data since ``since``, when given)."""
        self._feed()
        with self._lock:
            return sorted(
                key
                for key, series in self._series.items()
                if key[0] == account and key[1] == region and (since is None or series.last_put >= since)
            )

    # the log ----------------------------------------------------------------------------
    def _compact(self) -> None:
        """Rewrite the log from memory: its size stays within a few times what is kept (amortized, each
        line is rewritten a bounded number of times), instead of growing for as long as the cloud runs."""
        self._log.close()
        self._prune(time.time())
        self._live = self._rewrite(self.folder / LOG_FILE)
        self._written = 0
        self._log = open(self.folder / LOG_FILE, "a", encoding="utf-8")  # noqa: SIM115 - reopened after the rewrite

    def _load(self) -> int:
        path = self.folder / LOG_FILE
        if not path.exists():
            return 0
        skipped = 0
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                try:
                    record = json.loads(line)
                    account, region, namespace, name, dims = record["k"]
                    key = (account, region, namespace, name, tuple((d[0], d[1]) for d in dims))
                    self._merge(key, float(record["t"]), StatSet.from_json(record), record.get("u"))
                except (ValueError, KeyError, TypeError, IndexError):
                    skipped += 1  # a line cut off by a crash
        if skipped:
            log.warning("skipped %d unreadable metric lines in %s", skipped, path)
        self._prune(time.time())
        return self._rewrite(path)

    def _rewrite(self, path: Path) -> int:
        lines = []
        for key, series in self._series.items():
            for start, stats in sorted(series.buckets.items()):
                record = {"k": [*key[:4], [list(d) for d in key[4]]], "t": start, "u": series.unit, **stats.to_json()}
                lines.append(json.dumps(record))
        data = ("\n".join(lines) + "\n" if lines else "").encode()
        atomic_write(path, data)
        return len(data)

    def close(self) -> None:
        with self._lock:
            self._log.close()
