"""The local time scale: every wait AWS measures in minutes runs faster here, all by the same factor.

A blue/green deployment bakes for ``WaitIntervalInSeconds``, an alarm looks at periods of 60 s,
a scaling policy cools down for 300 s. On one machine nobody waits that long, so the local cloud
divides every such wait by ``LOCALCLOUD_TIME_SCALE`` (default 30: the shipped prod config's 600 s
canary bake takes 20 s, a 60 s alarm period 2 s). Timestamps the APIs report stay wall-clock
times; only durations shrink, and all of them shrink alike, so their order and ratios hold.
Seed code and configurations are never changed: the scale is the local cloud's own setting.
"""

from __future__ import annotations

import os
import threading

DEFAULT_TIME_SCALE = 30.0
ENVIRONMENT_VARIABLE = "LOCALCLOUD_TIME_SCALE"


class TimeScaleError(ValueError):
    """``LOCALCLOUD_TIME_SCALE`` is not a number the local cloud can use."""


def time_scale() -> float:
    """How many AWS seconds pass in one local second (read each time, so tests may set it)."""
    raw = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_TIME_SCALE
    try:
        scale = float(raw)
    except ValueError:
        scale = float("nan")
    if not scale >= 1.0 or scale == float("inf"):
        raise TimeScaleError(
            f"{ENVIRONMENT_VARIABLE}={raw!r}: expected a number of at least 1 (1 = AWS's own pace, "
            f"{DEFAULT_TIME_SCALE:g} = the default); unset it to use the default"
        )
    return scale


def local_seconds(aws_seconds: float) -> float:
    """The real seconds that stand for ``aws_seconds`` of an AWS wait."""
    return max(0.0, float(aws_seconds)) / time_scale()


def aws_seconds(local: float) -> float:
    """The AWS seconds that ``local`` real seconds stand for (to report how long a wait took)."""
    return float(local) * time_scale()


def wait(aws_seconds_to_wait: float, stop: threading.Event | None = None) -> bool:
    """Sleep for the local equivalent of an AWS wait; True if ``stop`` was set meanwhile."""
    seconds = local_seconds(aws_seconds_to_wait)
    if stop is None:
        threading.Event().wait(seconds)
        return False
    return stop.wait(seconds)
