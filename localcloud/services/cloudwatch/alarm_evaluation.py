"""One evaluation of a metric alarm, as CloudWatch words it: from the datapoints of its last
``EvaluationPeriods`` periods to a state, a StateReason and a StateReasonData.

"M out of N": the alarm goes to ALARM when at least ``DatapointsToAlarm`` (M, default N) of the
last N periods breach, else to OK. Periods without data count as ``TreatMissingData`` says:
``missing`` (the default) leaves them out and is INSUFFICIENT_DATA when all are missing, ``ignore``
leaves them out and keeps the current state when all are missing, ``breaching`` / ``notBreaching``
count them as breaching or not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

OPERATORS = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda value, limit: value >= limit),
    "GreaterThanThreshold": ("greater than", lambda value, limit: value > limit),
    "LessThanThreshold": ("less than", lambda value, limit: value < limit),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda value, limit: value <= limit),
}
ANOMALY_OPERATORS = ("LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold")
TREAT_MISSING = ("missing", "ignore", "breaching", "notBreaching")


@dataclass(frozen=True)
class Period:
    start: float  # wall-clock epoch seconds
    value: float | None  # the alarm's statistic, None when the period has no data
    sample_count: float = 0.0


@dataclass(frozen=True)
class Outcome:
    state: str
    reason: str
    reason_data: str
    latest: float | None  # the newest datapoint's value (what a scaling policy compares)


def aws_time(seconds: float) -> str:
    """StateReasonData's timestamps: 2026-12-01T22:10:00.000+0000."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def reason_time(seconds: float) -> str:
    """StateReason's timestamps: (01/12/26 22:10:00)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%d/%m/%y %H:%M:%S")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


def _listed(periods: list[Period]) -> str:
    return ", ".join(f"{p.value!r} ({reason_time(p.start)})" for p in sorted(periods, key=lambda p: -p.start))


def evaluate(
    periods: list[Period],
    *,
    current_state: str,
    comparison: str,
    threshold: float,
    datapoints_to_alarm: int | None,
    treat_missing: str | None,
    statistic: str,
    extended: bool,
    period_seconds: int,
    now: float,
) -> Outcome | None:
    """The alarm's state after this evaluation; None when it keeps its state (``ignore``, no data)."""
    words, breaches = OPERATORS[comparison]
    count = len(periods)
    needed = min(datapoints_to_alarm or count, count)
    treat = treat_missing or "missing"
    present = [p for p in periods if p.value is not None]
    missing = count - len(present)
    breaching = [p for p in present if breaches(p.value, threshold)]
    calm = [p for p in present if not breaches(p.value, threshold)]
    data = {
        "version": "1.0",
        "queryDate": aws_time(now),
        "startDate": aws_time(periods[0].start),
        ("extendedStatistic" if extended else "statistic"): statistic,
        "period": period_seconds,
        "recentDatapoints": [p.value for p in present],
        "threshold": threshold,
        "evaluatedDatapoints": [
            {
                "timestamp": aws_time(p.start),
                **({"sampleCount": p.sample_count, "value": p.value} if p.value is not None else {}),
            }
            for p in sorted(periods, key=lambda p: -p.start)
        ],
    }
    latest = present[-1].value if present else None
    reason_data = json.dumps(data)
    if not present:
        if treat == "missing":
            return Outcome(
                "INSUFFICIENT_DATA",
                f"Insufficient Data: {_plural(count, 'datapoint')} {_was(count)} unknown.",
                reason_data,
                None,
            )
        if treat == "ignore":
            return None
        as_what = "Breaching" if treat == "breaching" else "NonBreaching"
        state = "ALARM" if treat == "breaching" and count >= needed else "OK"
        reason = (
            f"Threshold Crossed: no datapoints were received for {_plural(count, 'period')} and "
            f"{_plural(count, 'missing datapoint')} {_was(count)} treated as [{as_what}]."
        )
        return Outcome(state, reason, reason_data, None)
    breach_count = len(breaching) + (missing if treat == "breaching" else 0)
    if breach_count >= needed:
        reason = (
            f"Threshold Crossed: {breach_count} out of the last {count} datapoints [{_listed(breaching)}] "
            f"{_was(breach_count)} {words} the threshold ({threshold!r}) "
            f"(minimum {_plural(needed, 'datapoint')} for {current_state} -> ALARM transition)."
        )
        return Outcome("ALARM", reason, reason_data, latest)
    calm_count = len(calm) + (missing if treat == "notBreaching" else 0)
    needed_ok = count - needed + 1
    reason = (
        f"Threshold Crossed: {calm_count} out of the last {count} datapoints [{_listed(calm)}] "
        f"{_was(calm_count)} not {words} the threshold ({threshold!r}) "
        f"(minimum {_plural(needed_ok, 'datapoint')} for {current_state} -> OK transition)."
    )
    return Outcome("OK", reason, reason_data, latest)
