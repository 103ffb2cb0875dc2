"""Checks a live endpoint: it is InService, answers in the serving contract's format, correctly and fast.

The serving contract (inference.py of the ModelBuild repository): requests are
text/csv rows of feature values (no header, no target) or application/json
{"instances": [[...], ...]}; the response is application/json, for a classifier
{"predictions": [{"label": <int>, "probabilities": {"0": p0, "1": p1}}, ...]}
and for a regression model {"predictions": [{"value": <number>}, ...]}.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

IN_SERVICE = "InService"
# Statuses an endpoint does not leave by itself: waiting longer cannot help.
TERMINAL_FAILURES = frozenset({"Failed", "OutOfService", "Deleting", "UpdateRollbackFailed"})
PROBABILITY_TOLERANCE = 1e-3


class EndpointNotReady(RuntimeError):
    """The endpoint failed, or did not reach InService within the timeout."""


class ResponseFormatError(ValueError):
    """A response does not follow the serving contract; the message says what was expected."""


def wait_for_in_service(
    sagemaker_client: Any,
    endpoint_name: str,
    timeout_seconds: float,
    poll_seconds: float = 15.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Poll describe_endpoint until InService; raise EndpointNotReady on failure or timeout."""
    deadline = clock() + timeout_seconds
    last_seen = "not described yet"
    while True:
        try:
            description = sagemaker_client.describe_endpoint(EndpointName=endpoint_name)
            status = description["EndpointStatus"]
            last_seen = status
            if status == IN_SERVICE:
                return status
            if status in TERMINAL_FAILURES:
                reason = description.get("FailureReason", "no FailureReason given")
                raise EndpointNotReady(f"endpoint {endpoint_name} is {status}: {reason}")
        except ClientError as error:
            last_seen = f"describe_endpoint failed: {error.response.get('Error', {}).get('Message', error)}"
        if clock() >= deadline:
            raise EndpointNotReady(
                f"endpoint {endpoint_name} not InService after {timeout_seconds:g} s (last seen: {last_seen}); "
                "raise ENDPOINT_WAIT_TIMEOUT_SECONDS if deployments take longer"
            )
        sleep(min(poll_seconds, max(0.0, deadline - clock())))


def parse_predictions(body: bytes, expected_count: int, regression: bool = False) -> list[int] | list[float]:
    """Labels (or values, for a regression) from one response body, or ResponseFormatError naming what is wrong."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        preview = body[:80].decode("utf-8", "replace")
        raise ResponseFormatError(f"response is not JSON ({error}); body starts with {preview!r}") from None
    if not isinstance(document, dict) or not isinstance(document.get("predictions"), list):
        raise ResponseFormatError('expected a JSON object with a "predictions" list')
    predictions = document["predictions"]
    if len(predictions) != expected_count:
        raise ResponseFormatError(f"expected {expected_count} predictions (one per row sent), got {len(predictions)}")
    check = _check_value if regression else _check_prediction
    return [check(index, item) for index, item in enumerate(predictions)]


def _check_value(index: int, item: Any) -> float:
    where = f"predictions[{index}]"
    value = item.get("value") if isinstance(item, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ResponseFormatError(f'{where}: expected an object like {{"value": <number>}}, got {json.dumps(item)}')
    return float(value)


def _check_prediction(index: int, item: Any) -> int:
    where = f"predictions[{index}]"
    if not isinstance(item, dict):
        raise ResponseFormatError(f'{where}: expected an object with "label" and "probabilities"')
    label = item.get("label")
    if isinstance(label, bool) or not isinstance(label, int):
        raise ResponseFormatError(f"{where}.label: expected an integer class label, got {json.dumps(label)}")
    probabilities = item.get("probabilities")
    if not isinstance(probabilities, dict) or not probabilities:
        raise ResponseFormatError(f'{where}.probabilities: expected an object like {{"0": p0, "1": p1}}')
    for key, value in probabilities.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise ResponseFormatError(f"{where}.probabilities[{key!r}]: expected a number in [0, 1], got {value!r}")
    total = sum(probabilities.values())
    if abs(total - 1.0) > PROBABILITY_TOLERANCE:
        raise ResponseFormatError(f"{where}.probabilities: should sum to 1, sum to {total:.4f}")
    if str(label) not in probabilities:
        raise ResponseFormatError(f"{where}: label {label} has no entry in probabilities {sorted(probabilities)}")
    return label


@dataclass
class InvocationResults:
    """Predictions per row (None where the request failed), per-request latencies and the problems seen."""

    predictions: list[int | float | None]
    latencies_ms: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    requests: int = 0


def csv_body(rows: list[list[str]]) -> bytes:
    return "".join(",".join(row) + "\n" for row in rows).encode("utf-8")


def json_body(rows: list[list[str]]) -> bytes:
    return json.dumps({"instances": [[float(value) for value in row] for row in rows]}).encode("utf-8")


ENCODERS = {"text/csv": csv_body, "application/json": json_body}


def invoke_in_batches(
    runtime_client: Any,
    endpoint_name: str,
    rows: list[list[str]],
    batch_size: int,
    content_type: str = "text/csv",
    clock: Callable[[], float] = time.perf_counter,
    regression: bool = False,
) -> InvocationResults:
    """Send rows in batches of batch_size, timing each request and checking each response."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    encode = ENCODERS[content_type]
    results = InvocationResults(predictions=[None] * len(rows))
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        where = f"{content_type} request for rows {start}-{start + len(batch) - 1}"
        results.requests += 1
        began = clock()
        try:
            response = runtime_client.invoke_endpoint(
                EndpointName=endpoint_name, ContentType=content_type, Accept="application/json", Body=encode(batch)
            )
            body = response["Body"].read()
        except (ClientError, BotoCoreError) as error:
            results.problems.append(f"{where}: invoke_endpoint failed: {error}")
            continue
        results.latencies_ms.append((clock() - began) * 1000.0)
        answered_type = response.get("ContentType", "application/json")
        if not answered_type.startswith("application/json"):
            results.problems.append(f"{where}: response ContentType is {answered_type!r}, expected application/json")
            continue
        try:
            labels = parse_predictions(body, len(batch), regression)
        except ResponseFormatError as error:
            results.problems.append(f"{where}: {error}")
            continue
        results.predictions[start : start + len(batch)] = labels
    return results


def accuracy(predicted: list[int | None], expected: list[float]) -> float:
    """Share of rows answered with the right label; unanswered rows count as wrong."""
    if not expected:
        raise ValueError("no rows to score")
    return sum(1 for got, want in zip(predicted, expected, strict=True) if got == want) / len(expected)


def r2(predicted: list[float | None], expected: list[float]) -> float:
    """Coefficient of determination, as scikit-learn's r2_score computes it; every row must be answered."""
    if len(expected) < 2:
        raise ValueError("R² needs at least two rows")
    unanswered = sum(1 for value in predicted if value is None)
    if unanswered:
        raise ValueError(f"{unanswered} of {len(expected)} rows got no answer, so R² cannot be computed")
    mean = sum(expected) / len(expected)
    total = sum((want - mean) ** 2 for want in expected)
    residual = sum((want - got) ** 2 for got, want in zip(predicted, expected, strict=True))
    if total == 0:
        raise ValueError("the test targets are all equal, so R² is undefined")
    return 1.0 - residual / total


SCORES = {"accuracy": accuracy, "r2": r2}


def percentile(values: list[float], percent: float) -> float:
    """Nearest-rank percentile: the smallest value with at least percent% of values at or below it."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100.0 * len(ordered)))
    return ordered[rank - 1]
