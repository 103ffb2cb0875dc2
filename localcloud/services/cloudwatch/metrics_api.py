"""PutMetricData, GetMetricStatistics, GetMetricData and ListMetrics, answered from the metric store.

moto parses the request (boto3 speaks CBOR to CloudWatch) and serializes the answer; these
replacements of its response methods only decide what the answer holds. Periods are AWS seconds,
read through the local time scale (``metric_store``): Period 60 is one datapoint per
``60 / LOCALCLOUD_TIME_SCALE`` real seconds, stamped with the wall-clock start of its period.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue
from moto.cloudwatch.models import CloudWatchBackend
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult, EmptyResult

from localcloud.core import clock
from localcloud.core import moto_seam as seam
from localcloud.services.cloudwatch.metric_store import BASE_SECONDS, MetricStore, dimensions_of
from localcloud.services.cloudwatch.statistics import STATISTICS, StatSet, percentile_of

LIST_PAGE = 500  # ListMetrics returns up to 500 metrics per call
RECENTLY_ACTIVE_SECONDS = 3 * 3600  # ListMetrics RecentlyActive=PT3H (AWS seconds, scaled)
UNTIL = "moto aggregating metrics by period boundaries, with percentiles and exact dimension matching"


def _store() -> MetricStore:
    from localcloud.services.cloudwatch import CloudWatchService

    cloud = seam.bound()
    if cloud is None:
        raise InvalidParameterValue("the local cloud is not running")
    return cloud.service(CloudWatchService).store


def epoch(moment: Any) -> float:
    if isinstance(moment, datetime):
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return float(moment)


def as_time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def checked_period(period: Any, field: str = "Period") -> int:
    """CloudWatch's periods: 1, 5, 10, 30 or a multiple of 60; the local cloud keeps 10 s buckets."""
    try:
        value = int(period)
    except (TypeError, ValueError):
        raise InvalidParameterValue(f"The parameter {field} must be a whole number of seconds.") from None
    if value <= 0 or (value not in (1, 5, 10, 30) and value % 60):
        raise InvalidParameterValue(f"The parameter {field} must be 1, 5, 10, 30 or a multiple of 60.")
    if value % BASE_SECONDS:
        raise InvalidParameterValue(
            f"{field} {value}: the local cloud keeps metrics in {BASE_SECONDS}-second buckets, so it cannot "
            f"answer periods finer than that; use {BASE_SECONDS}, 30 or a multiple of 60."
        )
    return value


def checked_statistic(name: str, field: str) -> str:
    if name in STATISTICS or percentile_of(name) is not None:
        return name
    raise InvalidParameterValue(
        f"The value {name} for parameter {field} is not supported: use one of {', '.join(STATISTICS)} "
        "or a percentile such as p99."
    )


def key_of(account: str, region: str, metric: dict[str, Any]) -> tuple:
    for dimension in metric.get("Dimensions") or []:
        if "Value" not in dimension:
            raise InvalidParameterValue(f"Dimension {dimension.get('Name')} needs a Value to fetch data for it.")
    return (account, region, metric["Namespace"], metric["MetricName"], dimensions_of(metric.get("Dimensions")))


# PutMetricData ------------------------------------------------------------------------------
def put_metric_data(self: CloudWatchResponse) -> EmptyResult:
    namespace = self._get_param("Namespace")
    metric_data = self._get_param("MetricData", [])
    backend: CloudWatchBackend = self.cloudwatch_backend
    if not namespace:
        raise InvalidParameterValue("The parameter Namespace is required.")
    if namespace.startswith("AWS/"):
        raise InvalidParameterValue(f"The value {namespace} for parameter Namespace is invalid: AWS/ is reserved.")
    for number, metric in enumerate(metric_data, 1):
        backend._validate_parameters_put_metric_data(metric, number)
    store, now = _store(), time.time()
    for metric in metric_data:
        stats = StatSet()
        if metric.get("Values"):
            counts = metric.get("Counts") or [1] * len(metric["Values"])
            for value, count in zip(metric["Values"], counts, strict=False):
                stats.add(float(value), float(count))
        elif metric.get("StatisticValues"):
            given = metric["StatisticValues"]
            stats.add_summary(
                float(given["SampleCount"]), float(given["Sum"]), float(given["Minimum"]), float(given["Maximum"])
            )
        else:
            stats.add(float(metric.get("Value", 0.0)))
        moment = epoch(metric["Timestamp"]) if metric.get("Timestamp") else now
        key = (
            self.current_account,
            self.region,
            namespace,
            metric["MetricName"],
            dimensions_of(metric.get("Dimensions")),
        )
        store.add(key, moment, stats, metric.get("Unit"))
    return EmptyResult()


# GetMetricStatistics ------------------------------------------------------------------------
def get_metric_statistics(self: CloudWatchResponse) -> ActionResult:
    statistics = self._get_param("Statistics", []) or []
    extended = self._get_param("ExtendedStatistics", []) or []
    if not statistics and not extended:
        raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
    if statistics and extended:
        raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics, but not both.")
    for name in statistics:
        if name not in STATISTICS:
            raise InvalidParameterValue(f"The value {name} for parameter Statistics is not supported.")
    for name in extended:
        if percentile_of(name) is None:
            raise InvalidParameterValue(f"The value {name} for parameter ExtendedStatistics is not supported.")
    start, end = epoch(self._get_param("StartTime")), epoch(self._get_param("EndTime"))
    if start >= end:
        raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    period = checked_period(self._get_param("Period"))
    metric = {
        "Namespace": self._get_param("Namespace"),
        "MetricName": self._get_param("MetricName"),
        "Dimensions": self._get_param("Dimensions", []),
    }
    key = key_of(self.current_account, self.region, metric)
    datapoints = []
    for begin, stats, unit in _store().datapoints(key, start, end, period, self._get_param("Unit")):
        point: dict[str, Any] = {"Timestamp": as_time(begin), "Unit": unit}
        for name in statistics:
            point[name] = stats.statistic(name)
        if extended:
            point["ExtendedStatistics"] = {name: stats.statistic(name) for name in extended}
        datapoints.append(point)
    return ActionResult({"Label": metric["MetricName"], "Datapoints": datapoints})


# GetMetricData ------------------------------------------------------------------------------
def get_metric_data(self: CloudWatchResponse) -> ActionResult:
    params = self._get_params()
    start, end = epoch(params["StartTime"]), epoch(params["EndTime"])
    if start >= end:
        raise InvalidParameterValue("The parameter EndTime must be greater than StartTime.")
    descending = (params.get("ScanBy") or "TimestampDescending") == "TimestampDescending"
    queries = params.get("MetricDataQueries") or []
    if not queries:
        raise InvalidParameterValue("The parameter MetricDataQueries is required.")
    results = []
    store = _store()
    for number, query in enumerate(queries, 1):
        if "Expression" in query:
            raise InvalidParameterValue(
                f"MetricDataQueries.member.{number} ({query.get('Id')}): metric math and Metrics Insights "
                "expressions are not evaluated by the local cloud; query each metric with MetricStat."
            )
        if "MetricStat" not in query:
            raise InvalidParameterValue(f"The parameter MetricDataQueries.member.{number}.MetricStat is required.")
        stat = query["MetricStat"]
        name = checked_statistic(stat["Stat"], f"MetricDataQueries.member.{number}.MetricStat.Stat")
        period = checked_period(stat["Period"], f"MetricDataQueries.member.{number}.MetricStat.Period")
        key = key_of(self.current_account, self.region, stat["Metric"])
        points = [
            (begin, stats.statistic(name))
            for begin, stats, _ in store.datapoints(key, start, end, period, stat.get("Unit"))
        ]
        if descending:
            points.reverse()
        if query.get("ReturnData", True):
            results.append(
                {
                    "Id": query["Id"],
                    "Label": query.get("Label") or stat["Metric"]["MetricName"],
                    "Timestamps": [as_time(begin) for begin, _ in points],
                    "Values": [value for _, value in points],
                    "StatusCode": "Complete",
                }
            )
    return ActionResult({"MetricDataResults": results, "Messages": []})


# ListMetrics --------------------------------------------------------------------------------
def _matches(key: tuple, namespace: str | None, name: str | None, wanted: list[dict[str, str]]) -> bool:
    if namespace and key[2] != namespace:
        return False
    if name and key[3] != name:
        return False
    dims = dict(key[4])
    return all(d["Name"] in dims and ("Value" not in d or dims[d["Name"]] == d["Value"]) for d in wanted)


def list_metrics(self: CloudWatchResponse) -> ActionResult:
    namespace, name = self._get_param("Namespace"), self._get_param("MetricName")
    wanted = self._get_params().get("Dimensions") or []
    token = self._get_param("NextToken")
    since = None
    if self._get_param("RecentlyActive"):
        since = time.time() - clock.local_seconds(RECENTLY_ACTIVE_SECONDS)
    keys = [
        k for k in _store().series(self.current_account, self.region, since) if _matches(k, namespace, name, wanted)
    ]
    try:
        offset = int(token) if token else 0
    except ValueError:
        raise InvalidParameterValue("Request parameter NextToken is invalid") from None
    page = keys[offset : offset + LIST_PAGE]
    metrics = [
        {"Namespace": k[2], "MetricName": k[3], "Dimensions": [{"Name": n, "Value": v} for n, v in k[4]]} for k in page
    ]
    result: dict[str, Any] = {"Metrics": metrics}
    if offset + LIST_PAGE < len(keys):
        result["NextToken"] = str(offset + LIST_PAGE)
    return ActionResult(result)


def install(service) -> None:  # noqa: ARG001 - the patches find the running cloud's store through the seam
    for attribute, replacement, why in (
        ("put_metric_data", put_metric_data, "PutMetricData goes to the local metric store (bucketed, persisted)"),
        ("get_metric_statistics", get_metric_statistics, "statistics per period boundary, ExtendedStatistics"),
        ("get_metric_data", get_metric_data, "GetMetricData from the local metric store, percentiles included"),
        ("list_metrics", list_metrics, "ListMetrics lists the local metric store's series (endpoint metrics too)"),
    ):
        seam.patch(CloudWatchResponse, attribute, value=replacement, why=why, until=UNTIL)
