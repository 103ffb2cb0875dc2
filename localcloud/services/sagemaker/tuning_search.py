"""Which hyperparameters a tuning job tries: a grid or a random search over ``ParameterRanges``.

SageMaker's ``Grid`` strategy takes categorical ranges only and tries every combination (up to
``MaxNumberOfTrainingJobs`` when given); ``Random`` draws each value independently. ``Bayesian``
runs here as ``Random``: the jobs, their names and the objective are SageMaker's, only the choice of
the next values is not model-guided. ``Hyperband`` is refused: it stops jobs early on intermediate
metrics, which is what a user picks it for, and the local cloud does not do that.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

STRATEGIES = ("Bayesian", "Random", "Grid", "Hyperband")
RANGE_KINDS = ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")


class TuningConfigError(ValueError):
    """A tuning configuration the local cloud refuses; the message names the field and the fix."""


def _number(text: Any, field: str, kind: type) -> float:
    try:
        return kind(text)
    except (TypeError, ValueError):
        raise TuningConfigError(f"{field} is {text!r}: it must be a {kind.__name__} written as a string") from None


def check_ranges(ranges: dict[str, Any], strategy: str) -> None:
    """Refuse ranges SageMaker refuses (and Grid with anything but categorical ranges)."""
    if not isinstance(ranges, dict) or not any(ranges.get(kind) for kind in RANGE_KINDS):
        raise TuningConfigError(
            "HyperParameterTuningJobConfig.ParameterRanges names no range: give IntegerParameterRanges, "
            "ContinuousParameterRanges or CategoricalParameterRanges"
        )
    seen: set[str] = set()
    for kind in RANGE_KINDS:
        for index, item in enumerate(ranges.get(kind) or []):
            field = f"ParameterRanges.{kind}[{index}]"
            name = item.get("Name")
            if not name:
                raise TuningConfigError(f"{field}.Name is required")
            if name in seen:
                raise TuningConfigError(f"{field}: hyperparameter {name!r} has more than one range")
            seen.add(name)
            if kind == "CategoricalParameterRanges":
                if not item.get("Values"):
                    raise TuningConfigError(f"{field}.Values must list at least one value")
                continue
            if strategy == "Grid":
                raise TuningConfigError(
                    f"{field} ({name}): the Grid strategy takes only CategoricalParameterRanges; list the values "
                    "to try as categorical values, or use the Random strategy"
                )
            cast = int if kind == "IntegerParameterRanges" else float
            low = _number(item.get("MinValue"), f"{field}.MinValue", cast)
            high = _number(item.get("MaxValue"), f"{field}.MaxValue", cast)
            if low > high:
                raise TuningConfigError(f"{field}: MinValue {low} is greater than MaxValue {high}")
            scaling = item.get("ScalingType", "Auto")
            if scaling not in ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic"):
                raise TuningConfigError(
                    f"{field}.ScalingType {scaling!r}: use Auto, Linear, Logarithmic or ReverseLogarithmic"
                )
            if scaling in ("Logarithmic", "ReverseLogarithmic") and low <= 0:
                raise TuningConfigError(f"{field}: {scaling} scaling needs MinValue > 0")


def grid_size(ranges: dict[str, Any]) -> int:
    return math.prod(len(item["Values"]) for item in ranges.get("CategoricalParameterRanges") or [])


def _grid(ranges: dict[str, Any], count: int) -> list[dict[str, str]]:
    categorical = ranges.get("CategoricalParameterRanges") or []
    names = [item["Name"] for item in categorical]
    combos = itertools.product(*[[str(v) for v in item["Values"]] for item in categorical])
    return [dict(zip(names, combo, strict=True)) for combo in itertools.islice(combos, count)]


def _draw(item: dict[str, Any], kind: str, rng: random.Random) -> str:
    if kind == "CategoricalParameterRanges":
        return str(rng.choice(item["Values"]))
    low, high = float(item["MinValue"]), float(item["MaxValue"])
    scaling = item.get("ScalingType", "Auto")
    if scaling == "Logarithmic":
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    elif scaling == "ReverseLogarithmic" and high < 1:
        value = 1 - math.exp(rng.uniform(math.log(1 - high), math.log(1 - low)))
    else:
        value = rng.uniform(low, high)
    if kind == "IntegerParameterRanges":
        return str(min(int(high), max(int(low), round(value))))
    return repr(round(value, 10))


def plan(config: dict[str, Any]) -> list[dict[str, str]]:
    """The tuned hyperparameters of every training job the tuning job will run, in order."""
    ranges = config["ParameterRanges"]
    limits = config.get("ResourceLimits") or {}
    maximum = limits.get("MaxNumberOfTrainingJobs")
    if config.get("Strategy") == "Grid":
        size = grid_size(ranges)
        return _grid(ranges, min(size, int(maximum)) if maximum else size)
    rng = random.Random(config.get("RandomSeed"))
    chosen = []
    for _ in range(int(maximum)):
        values = {}
        for kind in RANGE_KINDS:
            for item in ranges.get(kind) or []:
                values[item["Name"]] = _draw(item, kind, rng)
        chosen.append(values)
    return chosen
