"""A statistic set as CloudWatch keeps one per metric and period: count, sum, minimum, maximum, and
a log-bucketed histogram for percentiles.

CloudWatch answers ``p50``/``p95``/``p99`` for any period; keeping every raw value would grow without
bound, so values fall into bins whose edges grow by ``GAMMA`` (each bin spans 2 %): a percentile is
then within 1 % of the true value, sets merge exactly (bins add up), and the size depends on the
spread of the values, not on how many there are.
"""

from __future__ import annotations

import math
import re
from typing import Any

GAMMA = 1.02
_LOG_GAMMA = math.log(GAMMA)
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,2})?|100)$")


def _bin(value: float) -> int:
    return math.ceil(math.log(value) / _LOG_GAMMA)


def _bin_value(index: int) -> float:
    """The value that stands for a bin: the midpoint of its edges, so the relative error is at most 1 %."""
    return 2 * GAMMA**index / (GAMMA + 1)


def percentile_of(name: str) -> float | None:
    """``p99`` -> 99.0; None when ``name`` is not a percentile CloudWatch accepts."""
    match = PERCENTILE.match(name)
    if not match:
        return None
    value = float(match.group(1))
    return value if 0 <= value <= 100 else None


class StatSet:
    __slots__ = ("count", "total", "minimum", "maximum", "positive", "negative", "zeros")

    def __init__(self) -> None:
        self.count = 0.0
        self.total = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf
        self.positive: dict[int, float] = {}
        self.negative: dict[int, float] = {}
        self.zeros = 0.0

    def add(self, value: float, times: float = 1.0) -> None:
        self.count += times
        self.total += value * times
        if value < self.minimum:
            self.minimum = value
        if value > self.maximum:
            self.maximum = value
        if value > 0:
            index = _bin(value)
            self.positive[index] = self.positive.get(index, 0.0) + times
        elif value < 0:
            index = _bin(-value)
            self.negative[index] = self.negative.get(index, 0.0) + times
        else:
            self.zeros += times

    def add_summary(self, count: float, total: float, minimum: float, maximum: float) -> None:
        """A ``StatisticValues`` datum: no individual values, so percentiles see only its mean."""
        self.count += count
        self.total += total
        self.minimum = min(self.minimum, minimum)
        self.maximum = max(self.maximum, maximum)
        if count > 0:
            mean = total / count
            if mean > 0:
                self.positive[_bin(mean)] = self.positive.get(_bin(mean), 0.0) + count
            elif mean < 0:
                self.negative[_bin(-mean)] = self.negative.get(_bin(-mean), 0.0) + count
            else:
                self.zeros += count

    def merge(self, other: StatSet) -> None:
        self.count += other.count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        for index, times in other.positive.items():
            self.positive[index] = self.positive.get(index, 0.0) + times
        for index, times in other.negative.items():
            self.negative[index] = self.negative.get(index, 0.0) + times
        self.zeros += other.zeros

    def statistic(self, name: str) -> float | None:
        """One of ``STATISTICS`` or a percentile (``p95``); None if the set is empty."""
        if not self.count:
            return None
        if name == "SampleCount":
            return self.count
        if name == "Sum":
            return self.total
        if name == "Average":
            return self.total / self.count
        if name == "Minimum":
            return self.minimum
        if name == "Maximum":
            return self.maximum
        rank = percentile_of(name)
        if rank is None:
            raise ValueError(f"{name} is not a statistic")
        return self.percentile(rank)

    def percentile(self, rank: float) -> float:
        """Nearest rank over the bins, clamped to the observed minimum and maximum."""
        wanted = max(1.0, math.ceil(self.count * rank / 100.0))
        seen = 0.0
        ordered = [(-_bin_value(i), n) for i, n in sorted(self.negative.items(), reverse=True)]
        if self.zeros:
            ordered.append((0.0, self.zeros))
        ordered.extend((_bin_value(i), n) for i, n in sorted(self.positive.items()))
        found = self.maximum
        for value, times in ordered:
            seen += times
            if seen >= wanted - 1e-9:
                found = value
                break
        return min(max(found, self.minimum), self.maximum)

    # persistence -------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"n": self.count, "s": self.total, "lo": self.minimum, "hi": self.maximum}
        if self.positive:
            record["p"] = self.positive
        if self.negative:
            record["q"] = self.negative
        if self.zeros:
            record["z"] = self.zeros
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> StatSet:
        stats = cls()
        stats.count, stats.total = float(record["n"]), float(record["s"])
        stats.minimum, stats.maximum = float(record["lo"]), float(record["hi"])
        stats.positive = {int(k): float(v) for k, v in (record.get("p") or {}).items()}
        stats.negative = {int(k): float(v) for k, v in (record.get("q") or {}).items()}
        stats.zeros = float(record.get("z", 0.0))
        return stats
