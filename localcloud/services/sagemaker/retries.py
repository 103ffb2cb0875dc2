"""Retry policies of pipeline steps, as SageMaker Pipelines applies them.

A step's ``RetryPolicies`` list which failures start it again (``ExceptionType``), how long to wait
first (``IntervalSeconds``, multiplied by ``BackoffRate`` each time) and when to give up
(``MaxAttempts`` retries, or ``ExpireAfterMin`` minutes after the first attempt). SageMaker classifies
a failure into one of five types; a job's own program failing (``AlgorithmError``) or a request it
refuses (``ClientError``) is none of them and is never retried.

Without a policy, SageMaker retries service faults and throttling on its own; the local cloud does
the same with ``DEFAULT`` below. Waits follow the local time scale (``core/clock.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

STEP_TYPES = ("Step.SERVICE_FAULT", "Step.THROTTLING")
JOB_TYPES = ("SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR", "SageMaker.RESOURCE_LIMIT")
RETRYABLE_STEPS = ("Processing", "Training", "Tuning", "AutoML", "Model", "RegisterModel", "Transform")
MAX_ATTEMPTS_CAP = 20
MAX_EXPIRE_AFTER_MIN = 14400

THROTTLING_CODES = {"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "SlowDown"}


class RetryPolicyError(ValueError):
    """A RetryPolicies entry the executor cannot use; the message names the step and the field."""


@dataclass(frozen=True)
class RetryPolicy:
    exception_types: tuple[str, ...]
    interval_seconds: float = 1.0
    backoff_rate: float = 2.0
    max_attempts: int | None = None
    expire_after_min: float | None = None

    def delay(self, exception_type: str, retries_so_far: int, first_start: float, now: float) -> float | None:
        """Seconds (AWS time) to wait before the next attempt, or None if this policy does not retry."""
        if exception_type not in self.exception_types:
            return None
        if self.max_attempts is not None and retries_so_far >= self.max_attempts:
            return None
        if self.expire_after_min is not None and now - first_start >= self.expire_after_min * 60:
            return None
        return self.interval_seconds * self.backoff_rate**retries_so_far


# What SageMaker does with no policy: service faults and throttling are retried automatically.
DEFAULT = RetryPolicy(STEP_TYPES, interval_seconds=1.0, backoff_rate=2.0, max_attempts=3)


def _number(step: str, index: int, policy: dict[str, Any], field: str, low: float, high: float | None) -> Any:
    value = policy.get(field)
    if value is None:
        return None
    bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low or (high and value > high):
        raise RetryPolicyError(f"step {step!r}: RetryPolicies[{index}].{field} is {value!r}; it must be {bound}")
    return value


def policies(step: dict[str, Any]) -> list[RetryPolicy]:
    """The step's retry policies, checked; an empty list when it declares none."""
    declared = step.get("RetryPolicies")
    if declared is None:
        return []
    name = step["Name"]
    if not isinstance(declared, list):
        raise RetryPolicyError(f"step {name!r}: RetryPolicies must be a list of retry policies")
    if step["Type"] not in RETRYABLE_STEPS:
        raise RetryPolicyError(
            f"step {name!r}: {step['Type']} steps take no RetryPolicies (SageMaker retries only "
            f"{', '.join(RETRYABLE_STEPS)} steps); remove them"
        )
    parsed = []
    for index, policy in enumerate(declared):
        if not isinstance(policy, dict):
            raise RetryPolicyError(f"step {name!r}: RetryPolicies[{index}] must be an object")
        types = list(policy.get("ExceptionType") or []) + list(policy.get("FailureReasonType") or [])
        known = STEP_TYPES + JOB_TYPES
        unknown = [t for t in types if t not in known]
        if not types or unknown:
            raise RetryPolicyError(
                f"step {name!r}: RetryPolicies[{index}].ExceptionType {unknown or types!r} is not a list of "
                f"known exception types ({', '.join(known)})"
            )
        if policy.get("MaxAttempts") is None and policy.get("ExpireAfterMin") is None:
            raise RetryPolicyError(
                f"step {name!r}: RetryPolicies[{index}] needs MaxAttempts (1-{MAX_ATTEMPTS_CAP}) or "
                f"ExpireAfterMin (0-{MAX_EXPIRE_AFTER_MIN}) to say when retrying stops"
            )
        interval = _number(name, index, policy, "IntervalSeconds", 0, None)
        backoff = _number(name, index, policy, "BackoffRate", 0, None)
        parsed.append(
            RetryPolicy(
                exception_types=tuple(types),
                interval_seconds=1.0 if interval is None else float(interval),
                backoff_rate=2.0 if backoff is None else float(backoff),
                max_attempts=_number(name, index, policy, "MaxAttempts", 1, MAX_ATTEMPTS_CAP),
                expire_after_min=_number(name, index, policy, "ExpireAfterMin", 0, MAX_EXPIRE_AFTER_MIN),
            )
        )
    return parsed


def classify_job_failure(reason: str) -> str | None:
    """The exception type of a job's FailureReason; None for the job's own errors (not retried)."""
    if reason.startswith("InternalServerError"):
        return "SageMaker.JOB_INTERNAL_ERROR"
    if reason.startswith("CapacityError") or "InsufficientCapacity" in reason:
        return "SageMaker.CAPACITY_ERROR"
    if reason.startswith("ResourceLimitExceeded"):
        return "SageMaker.RESOURCE_LIMIT"
    return None


def classify_client_error(code: str, status: int) -> str | None:
    """The exception type of an API call's error; None for the caller's own mistakes (4xx)."""
    if code in THROTTLING_CODES:
        return "Step.THROTTLING"
    if code == "ResourceLimitExceeded":
        return "SageMaker.RESOURCE_LIMIT"
    if status >= 500:
        return "Step.SERVICE_FAULT"
    return None


def next_delay(
    declared: list[RetryPolicy], exception_type: str | None, retries_so_far: int, first_start: float
) -> float | None:
    """AWS seconds to wait before retrying, or None to fail now. A declared policy for the type wins
    over SageMaker's automatic retry of service faults and throttling."""
    if exception_type is None:
        return None
    now = time.time()
    matching = [p for p in declared if exception_type in p.exception_types]
    for policy in matching or [DEFAULT]:
        delay = policy.delay(exception_type, retries_so_far, first_start, now)
        if delay is not None:
            return delay
    return None
