"""``localcloud endpoints watch NAME``: one screen that shows a deployment as it happens.

Everything comes through the AWS API, as a user's own tooling would read it: DescribeEndpoint (status,
configuration, ``PendingDeploymentSummary``, ``FailureReason``), GetMetricData (the endpoint's
``Invocations`` of the last scaled minute, per fleet) and DescribeAlarms (the alarms the deployment
configuration rolls back on). A frame is built from those answers (``collect``) and then drawn
(``render``), so ``--once`` prints exactly what the refreshing view shows.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from localcloud.core import clock
from localcloud.tools.commands import client, table

CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear screen
NAMESPACE = "AWS/SageMaker"


@dataclass
class Fleet:
    """One variant of one endpoint configuration (blue: serving, green: being deployed)."""

    config: str
    variant: str
    role: str  # "serving" or "deploying"
    current: int | None
    desired: int | None
    weight: float | None
    invocations: float = 0.0


@dataclass
class Frame:
    name: str
    status: str
    config: str
    scale: float
    fleets: list[Fleet]
    phases: list[str] = field(default_factory=list)
    alarms: list[list[str]] = field(default_factory=list)
    failure: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


def _rollback_alarms(described: dict) -> list[str]:
    config = described.get("LastDeploymentConfig") or described.get("DeploymentConfig") or {}
    return [a["AlarmName"] for a in (config.get("AutoRollbackConfiguration") or {}).get("Alarms", [])]


def _invocations(cloudwatch, queries: dict[str, list[dict]], minute: float, now: datetime) -> dict[str, float]:
    """Sum of Invocations per query id over the last scaled minute (one GetMetricData call)."""
    if not queries:
        return {}
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": key,
                "MetricStat": {
                    "Metric": {"Namespace": NAMESPACE, "MetricName": "Invocations", "Dimensions": dims},
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
            for key, dims in queries.items()
        ],
        StartTime=now - timedelta(seconds=minute),
        EndTime=now + timedelta(seconds=1),
    )
    return {result["Id"]: sum(result["Values"]) for result in answer["MetricDataResults"]}


def collect(sagemaker, cloudwatch, name: str) -> Frame:
    """Read the endpoint, its traffic per fleet and its rollback alarms; raises for an unknown endpoint."""
    try:
        described = sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
            known = [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]
            raise RuntimeError(
                f"no endpoint named {name!r} (endpoints: {', '.join(known) or 'none'}); see 'localcloud endpoints list'"
            ) from None
        raise
    scale = clock.time_scale()
    now = datetime.now(UTC)
    fleets = [
        Fleet(
            described["EndpointConfigName"],
            v["VariantName"],
            "serving",
            v.get("CurrentInstanceCount"),
            v.get("DesiredInstanceCount"),
            v.get("CurrentWeight"),
        )
        for v in described.get("ProductionVariants", [])
    ]
    pending = described.get("PendingDeploymentSummary") or {}
    phases = []
    for v in pending.get("ProductionVariants", []):
        fleets.append(
            Fleet(
                pending["EndpointConfigName"],
                v["VariantName"],
                "deploying",
                v.get("CurrentInstanceCount"),
                v.get("DesiredInstanceCount"),
                v.get("DesiredWeight"),
            )
        )
        for status in v.get("VariantStatus", []):
            began = status.get("StartTime")
            since = f" since {began:%H:%M:%S}" if isinstance(began, datetime) else ""
            phases.append(f"{v['VariantName']}: {status['Status']}{since}: {status.get('StatusMessage', '')}".rstrip())
    # A variant's own series counts both fleets; the deploying fleet's also carries its EndpointConfigName.
    base = [{"Name": "EndpointName", "Value": name}]
    queries = {f"v{i}": [*base, {"Name": "VariantName", "Value": f.variant}] for i, f in enumerate(fleets)}
    for i, f in enumerate(fleets):
        if f.role == "deploying":
            queries[f"g{i}"] = [*queries[f"v{i}"], {"Name": "EndpointConfigName", "Value": f.config}]
    sums = _invocations(cloudwatch, queries, 60.0 / scale, now)
    green_by_variant = {f.variant: sums.get(f"g{i}", 0.0) for i, f in enumerate(fleets) if f.role == "deploying"}
    for i, f in enumerate(fleets):
        if f.role == "deploying":
            f.invocations = sums.get(f"g{i}", 0.0)
        else:
            f.invocations = max(0.0, sums.get(f"v{i}", 0.0) - green_by_variant.get(f.variant, 0.0))
    alarm_names = _rollback_alarms(described)
    alarms = []
    if alarm_names:
        listed = cloudwatch.describe_alarms(AlarmNames=alarm_names, AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        found = {a["AlarmName"]: a for a in [*listed["MetricAlarms"], *listed["CompositeAlarms"]]}
        for alarm in alarm_names:
            record = found.get(alarm)
            if record is None:
                alarms.append([alarm, "MISSING", "no such alarm: a deployment guarded by it rolls back"])
            else:
                alarms.append([alarm, record["StateValue"], record.get("StateReason", "")[:90]])
    return Frame(
        name,
        described["EndpointStatus"],
        described["EndpointConfigName"],
        scale,
        fleets,
        phases,
        alarms,
        described.get("FailureReason"),
        now,
    )


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def render(frame: Frame) -> str:
    lines = [
        f"endpoint {frame.name}  status {frame.status}  config {frame.config}",
        f"at {frame.at:%H:%M:%S} UTC; traffic over the last scaled minute ({60 / frame.scale:.1f} s real, "
        f"LOCALCLOUD_TIME_SCALE {frame.scale:g})",
        "",
    ]
    deploying = next((f.config for f in frame.fleets if f.role == "deploying"), None)
    if deploying:
        lines.append(f"deployment to {deploying}:")
        lines += [f"  {phase}" for phase in frame.phases]
    else:
        lines.append("no deployment in progress")
    lines.append("")
    total = sum(f.invocations for f in frame.fleets)
    rows = [
        [
            f.variant,
            f.config,
            f.role,
            f"{_count(f.current)}/{_count(f.desired)}",
            "-" if f.weight is None else f"{f.weight:g}",
            f"{f.invocations:g}",
            f"{100 * f.invocations / total:.0f}%" if total else "-",
        ]
        for f in frame.fleets
    ]
    lines.append(table(rows, ["variant", "fleet", "role", "instances", "weight", "invocations", "share"]))
    lines.append("")
    if frame.alarms:
        lines.append("auto-rollback alarms:")
        lines.append(table(frame.alarms, ["alarm", "state", "reason"]))
    else:
        lines.append("auto-rollback alarms: none in the deployment configuration")
    if frame.failure:
        lines += ["", f"failure reason: {frame.failure}"]
    return "\n".join(lines)


def watch(args) -> int:
    sagemaker, cloudwatch = client("sagemaker"), client("cloudwatch")
    once = args.once or not sys.stdout.isatty()
    try:
        while True:
            text = render(collect(sagemaker, cloudwatch, args.name))
            if once:
                print(text)
                return 0
            sys.stdout.write(CLEAR + text + "\n")
            sys.stdout.flush()
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0


def add_parser(sub) -> None:
    command = sub.add_parser(
        "watch", help="refreshing view of an endpoint: deployment phase, instances, traffic per fleet, alarms"
    )
    command.add_argument("name")
    command.add_argument("--once", action="store_true", help="print one frame and exit (also when not a terminal)")
    command.add_argument("--interval", type=float, default=1.0, help="seconds between frames (default 1)")
    command.set_defaults(run=watch)
