"""Metric alarms that evaluate: on schedule, against the metric store, with CloudWatch's wording.

moto records alarms (PutMetricAlarm, and CloudFormation's ``AWS::CloudWatch::Alarm``, which calls
the same backend method) and never evaluates them. Here a thread evaluates every metric alarm once
per scaled minute (per period for 10 s and 30 s alarms) on its last ``EvaluationPeriods`` whole
periods (``alarm_evaluation``). A state change updates moto's alarm record (snapshotted, so it
survives a restart), adds a ``StateUpdate`` to the history, puts a ``CloudWatch Alarm State
Change`` event on the account's default bus, runs the actions of the new state, and judges the
composite alarms whose rule names the alarm (``composite_alarms``), whose own changes go through
this same ``transition``. Actions are run by the services that own them (``register_action``): an
Application Auto Scaling policy is run again at every evaluation while its alarm stays in ALARM, as
CloudWatch does; an SNS topic is sent CloudWatch's notification (``sns_action``); an action no
local service runs is recorded in the history as failed, saying so.

New alarms start in INSUFFICIENT_DATA ("Unchecked: Initial alarm creation"); an update keeps the
state. ``SetAlarmState`` changes the state until the next evaluation, as on AWS.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moto.cloudwatch.exceptions import (
    InvalidFormat,
    InvalidParameterCombination,
    InvalidParameterValue,
    ResourceNotFound,
    ValidationError,
)
from moto.cloudwatch.models import Alarm, CloudWatchBackend, cloudwatch_backends
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.events.models import events_backends
from moto.utilities.arns import parse_arn

from localcloud.core import clock
from localcloud.core import moto_seam as seam
from localcloud.services.cloudwatch import composite_alarms
from localcloud.services.cloudwatch.alarm_evaluation import (
    ANOMALY_OPERATORS,
    OPERATORS,
    TREAT_MISSING,
    Period,
    aws_time,
    evaluate,
)
from localcloud.services.cloudwatch.alarm_history import AlarmHistory
from localcloud.services.cloudwatch.metric_store import MetricStore, bucket_start
from localcloud.services.cloudwatch.statistics import STATISTICS, percentile_of

log = logging.getLogger("localcloud.services.cloudwatch.alarms")
TICK_SECONDS = 10  # AWS seconds between looks at the schedule
MIN_TICK = 0.005  # real seconds: the thread never spins faster than this
MAX_CATCH_UP = 10  # missed evaluation boundaries judged late, at most
UNTIL = "moto evaluating alarms (it stores them and never changes their state)"
REPEATING_ACTIONS = {"autoscaling"}  # run at every evaluation while the alarm stays in the state


@dataclass(frozen=True)
class Firing:
    """What an action handler is told about the alarm that runs it."""

    account: str
    region: str
    alarm_name: str
    alarm_arn: str
    state: str
    reason: str
    latest: float | None  # the newest datapoint's value, when the state came from data
    threshold: float | None  # None for a composite alarm
    transitioned: bool  # False when the alarm stayed in the state and the action runs again
    previous_state: str = ""
    reason_data: str | None = None
    changed_at: datetime | None = None  # when the alarm entered the state
    record: Alarm | None = None  # moto's alarm record, for its configuration (a notification names it)


ActionHandler = Callable[[str, Firing], str]  # (action ARN, firing) -> what it did; raises to fail
ACTION_HANDLERS: dict[str, ActionHandler] = {}


def register_action(service: str, handler: ActionHandler) -> None:
    """Alarm actions whose ARN names ``service`` (``arn:aws:<service>:...``) are run by ``handler``."""
    ACTION_HANDLERS[service] = handler


def _backends():
    for account_backends in list(cloudwatch_backends.values()):
        yield from list(account_backends.values())


def _statistic(alarm: Alarm) -> tuple[str, bool]:
    return (alarm.extended_statistic, True) if alarm.extended_statistic else (alarm.statistic, False)


def alarm_type(alarm: Alarm) -> str:
    return "CompositeAlarm" if alarm.rule is not None else "MetricAlarm"


def evaluable(alarm: Alarm) -> bool:
    """Metric alarms on one metric, judged on the schedule (composites are judged when a child
    changes: composite_alarms; metric math is refused when put)."""
    return alarm.rule is None and not alarm.metric_data_queries and bool(alarm.metric_name)


class AlarmService:
    def __init__(self, cloud, store: MetricStore, history: AlarmHistory):
        self.cloud = cloud
        self.store = store
        self.history = history
        self._due: dict[tuple[str, str, str], float] = {}
        self._judged: dict[tuple[str, str, str], float] = {}  # the evaluation boundary last judged
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cloudwatch-alarms", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    # the schedule ---------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(max(MIN_TICK, clock.local_seconds(TICK_SECONDS))):
            try:
                self.evaluate_due(time.time())
            except Exception:  # noqa: BLE001 - the next tick tries again
                log.exception("alarm evaluation failed")

    def evaluate_due(self, now: float) -> None:
        actions: list[tuple[str, Firing]] = []
        with self.cloud.state.lock:
            changed = False
            for backend in _backends():
                for alarm in list(backend.alarms.values()):
                    if not evaluable(alarm):
                        continue
                    key = (backend.account_id, backend.region_name, alarm.name)
                    if now < self._due.get(key, 0.0):
                        continue
                    every = clock.local_seconds(min(int(alarm.period or 60), 60))
                    self._due[key] = bucket_start(now, every) + every + clock.local_seconds(1)  # after each boundary
                    try:
                        for moment in self._moments(key, now, every):
                            changed |= self._evaluate(backend, alarm, moment, actions)
                    except Exception:  # noqa: BLE001 - one alarm's problem must not stop the others
                        log.exception("alarm %s could not be evaluated", alarm.name)
            if changed:
                self.cloud.state.save_backends("cloudwatch")
        self._run_actions(actions)

    def _moments(self, key: tuple[str, str, str], now: float, every: float) -> list[float]:
        """When to judge the alarm as of: ``now``, and first each evaluation boundary the schedule
        missed since the last one (a busy machine woke the thread late, and a period's data would
        otherwise never be judged: CloudWatch judges every one). Past ``MAX_CATCH_UP`` missed
        boundaries (the machine slept), only the latest are judged."""
        boundary = bucket_start(now, every)
        last = self._judged.get(key)
        self._judged[key] = boundary
        if last is None or boundary - last <= every * 1.5:
            return [now]
        missed = []
        moment = last + every
        while moment < boundary - every / 2:
            missed.append(moment + clock.local_seconds(1))
            moment += every
        return [*missed[-MAX_CATCH_UP:], now]

    def _evaluate(self, backend: CloudWatchBackend, alarm: Alarm, now: float, actions: list) -> bool:
        period = int(alarm.period)
        length = clock.local_seconds(period)
        end = bucket_start(now, length)  # the current period is not over: the last whole one ends here
        count = int(alarm.evaluation_periods)
        begin = end - count * length
        statistic, extended = _statistic(alarm)
        key = (
            backend.account_id,
            backend.region_name,
            alarm.namespace,
            alarm.metric_name,
            tuple(sorted((d.name, d.value) for d in alarm.dimensions)),
        )
        found = {
            start: stats for start, stats, _ in self.store.datapoints(key, begin - length / 2, end, period, alarm.unit)
        }
        periods = []
        for index in range(count):
            start = bucket_start(begin + index * length + length / 2, length)
            stats = found.get(start)
            value = stats.statistic(statistic) if stats is not None else None
            periods.append(Period(start, value, stats.count if stats is not None else 0.0))
        outcome = evaluate(
            periods,
            current_state=alarm.state_value,
            comparison=alarm.comparison_operator,
            threshold=float(alarm.threshold),
            datapoints_to_alarm=int(alarm.datapoints_to_alarm) if alarm.datapoints_to_alarm else None,
            treat_missing=alarm.treat_missing_data,
            statistic=statistic,
            extended=extended,
            period_seconds=period,
            now=now,
        )
        if outcome is None:
            return False
        if outcome.state != alarm.state_value:
            self.transition(backend, alarm, outcome.state, outcome.reason, outcome.reason_data, actions, outcome.latest)
            return True
        if alarm.actions_enabled:  # still in the state: actions that repeat run again
            for arn in self._actions_of(alarm, alarm.state_value):
                if parse_arn(arn).service in REPEATING_ACTIONS:
                    actions.append((arn, self._firing(backend, alarm, outcome.latest, False, alarm.state_value)))
        return False

    # state changes --------------------------------------------------------------------------
    def transition(
        self,
        backend: CloudWatchBackend,
        alarm: Alarm,
        state: str,
        reason: str,
        reason_data: str | None,
        actions: list | None = None,
        latest: float | None = None,
        moved: frozenset[str] = frozenset(),
    ) -> None:
        """Change an alarm's state (the state lock is held): record, announce, queue its actions, then
        judge the composite alarms that name it. ``moved`` holds the alarms this chain of changes has
        already moved: a composite in a cycle (A names B, B names A) moves once per change, not forever."""
        before = {
            "value": alarm.state_value,
            "reason": alarm.state_reason,
            "reasonData": alarm.state_reason_data,
            "timestamp": aws_time(alarm.state_updated_timestamp.timestamp()),
        }
        when = utcnow()
        alarm.state_value, alarm.state_reason, alarm.state_reason_data = state, reason, reason_data
        alarm.state_updated_timestamp = alarm.state_transitioned_timestamp = when
        new_state: dict[str, Any] = {"stateValue": state, "stateReason": reason}
        if reason_data:
            try:
                new_state["stateReasonData"] = json.loads(reason_data)
            except ValueError:
                pass
        self.history.add(
            backend.account_id,
            backend.region_name,
            alarm.name,
            "StateUpdate",
            f"Alarm updated from {before['value']} to {state}",
            {
                "version": "1.0",
                "oldState": {"stateValue": before["value"], "stateReason": before["reason"]},
                "newState": new_state,
            },
            when,
            alarm_type(alarm),
        )
        self._announce(backend, alarm, before)
        if actions is not None and alarm.actions_enabled:
            for arn in self._actions_of(alarm, state):
                actions.append((arn, self._firing(backend, alarm, latest, True, before["value"])))
        moved = moved | {alarm.name}
        for parent in composite_alarms.parents(backend, alarm):
            if parent.name in moved:
                continue
            judged = composite_alarms.judge(backend, parent, trigger=alarm)
            if judged is not None:
                self.transition(backend, parent, judged.state, judged.reason, judged.reason_data, actions, moved=moved)

    def judge_now(self, backend: CloudWatchBackend, composite: Alarm) -> None:
        """A composite alarm just put (the state lock is held): its state from its children's, now."""
        judged = composite_alarms.judge(backend, composite, trigger=None)
        if judged is None:
            return
        actions: list = []
        self.transition(backend, composite, judged.state, judged.reason, judged.reason_data, actions)
        self.run_later(actions)

    def run_later(self, actions: list[tuple[str, Firing]]) -> None:
        """Run the actions after the request that caused them, outside its lock."""
        if actions:
            threading.Thread(target=self._run_actions, args=(actions,), name="alarm-actions", daemon=True).start()

    @staticmethod
    def _actions_of(alarm: Alarm, state: str) -> list[str]:
        return {
            "ALARM": alarm.alarm_actions,
            "OK": alarm.ok_actions,
            "INSUFFICIENT_DATA": alarm.insufficient_data_actions,
        }.get(state) or []

    @staticmethod
    def _firing(backend, alarm: Alarm, latest: float | None, transitioned: bool, previous: str) -> Firing:
        return Firing(
            backend.account_id,
            backend.region_name,
            alarm.name,
            alarm.alarm_arn,
            alarm.state_value,
            alarm.state_reason,
            latest,
            float(alarm.threshold) if alarm.threshold is not None else None,
            transitioned,
            previous_state=previous,
            reason_data=alarm.state_reason_data,
            changed_at=alarm.state_updated_timestamp,
            record=alarm,
        )

    def _announce(self, backend: CloudWatchBackend, alarm: Alarm, before: dict[str, Any]) -> None:
        """``CloudWatch Alarm State Change`` on the default bus, in CloudWatch's detail shape."""
        detail = {
            "alarmName": alarm.name,
            "state": {
                "value": alarm.state_value,
                "reason": alarm.state_reason,
                "reasonData": alarm.state_reason_data,
                "timestamp": aws_time(alarm.state_updated_timestamp.timestamp()),
            },
            "previousState": before,
            "configuration": self._configuration(alarm),
        }
        event = {
            "Source": "aws.cloudwatch",
            "DetailType": "CloudWatch Alarm State Change",
            "Detail": json.dumps(detail, default=str),
            "Resources": [alarm.alarm_arn],
            "EventBusName": "default",
        }
        try:
            events_backends[backend.account_id][backend.region_name].put_events([event])
        except Exception:  # a target's failure is not the alarm's; CloudWatch goes on
            log.exception("alarm %s: its state change event could not be put", alarm.name)

    @staticmethod
    def _configuration(alarm: Alarm) -> dict[str, Any]:
        """The event's ``configuration``: a composite's rule, or a metric alarm's metric."""
        if alarm.rule is not None:
            return {"description": alarm.description, "alarmRule": alarm.rule}
        statistic, _ = _statistic(alarm)
        metric = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, alarm.alarm_arn)),
            "metricStat": {
                "metric": {
                    "namespace": alarm.namespace,
                    "name": alarm.metric_name,
                    "dimensions": {d.name: d.value for d in alarm.dimensions},
                },
                "period": alarm.period,
                "stat": statistic,
            },
            "returnData": True,
        }
        return {"description": alarm.description, "metrics": [metric] if alarm.metric_name else []}

    def _run_actions(self, actions: list[tuple[str, Firing]]) -> None:
        """Outside the state lock: a handler calls the API (a scaling policy updates an endpoint)."""
        for arn, firing in actions:
            service = parse_arn(arn).service
            handler = ACTION_HANDLERS.get(service)
            try:
                if handler is None:
                    raise RuntimeError(f"the local cloud does not run {service} alarm actions")
                handler(arn, firing)
                outcome, summary = True, f"Successfully executed action {arn}"
            except Exception as error:  # noqa: BLE001 - recorded as CloudWatch records a failed action
                outcome, summary = False, f"Failed to execute action {arn}. Received error: {error}"
                if handler is not None:
                    log.warning("alarm %s: action %s failed: %s", firing.alarm_name, arn, error)
            if firing.transitioned:
                self.history.add(
                    firing.account,
                    firing.region,
                    firing.alarm_name,
                    "Action",
                    summary,
                    {"actionState": "Succeeded" if outcome else "Failed", "notificationResource": arn},
                    utcnow(),
                    alarm_type(firing.record) if firing.record is not None else "MetricAlarm",
                )

    def forget(self, account: str, region: str, name: str) -> None:
        self._due.pop((account, region, name), None)
        self._judged.pop((account, region, name), None)


# moto patches -------------------------------------------------------------------------------
def bound_service() -> AlarmService | None:
    from localcloud.services.cloudwatch import CloudWatchService

    cloud = seam.bound()
    if cloud is None:
        return None
    try:
        return cloud.service(CloudWatchService).alarms
    except LookupError:
        return None


def _check_alarm(kwargs: dict[str, Any]) -> None:
    """What CloudWatch refuses, and what the local cloud cannot evaluate, before the alarm is kept."""
    if kwargs.get("metric_data_queries"):
        raise InvalidParameterValue(
            "Metric math alarms (Metrics) are not evaluated by the local cloud: alarm on one metric with "
            "Namespace, MetricName, Dimensions and Statistic or ExtendedStatistic."
        )
    operator = kwargs.get("comparison_operator")
    if operator in ANOMALY_OPERATORS or kwargs.get("threshold_metric_id"):
        raise InvalidParameterValue(
            f"ComparisonOperator {operator}: anomaly detection bands are not evaluated by the local cloud; "
            f"use one of {', '.join(OPERATORS)} with a Threshold."
        )
    if operator not in OPERATORS:
        raise ValidationError(
            f"Value '{operator}' at 'comparisonOperator' failed to satisfy constraint: Member must satisfy "
            f"enum value set: [{', '.join(OPERATORS)}]"
        )
    statistic, extended = kwargs.get("statistic"), kwargs.get("extended_statistic")
    if bool(statistic) == bool(extended):
        raise InvalidParameterCombination("Exactly one of the parameters Statistic or ExtendedStatistic is required.")
    if statistic and statistic not in STATISTICS:
        raise ValidationError(
            f"Value '{statistic}' at 'statistic' failed to satisfy constraint: use one of {STATISTICS}"
        )
    if extended and percentile_of(extended) is None:
        raise InvalidParameterValue(f"The value {extended} for parameter ExtendedStatistic is not supported.")
    period = int(kwargs.get("period") or 0)
    if period not in (10, 30) and (period <= 0 or period % 60):
        raise InvalidParameterValue(f"Period {period}: an alarm's Period must be 10, 30 or a multiple of 60 seconds.")
    periods = int(kwargs.get("evaluation_periods") or 0)
    if periods < 1:
        raise ValidationError("EvaluationPeriods must be at least 1.")
    wanted = kwargs.get("datapoints_to_alarm")
    if wanted is not None and not 1 <= int(wanted) <= periods:
        raise ValidationError(f"DatapointsToAlarm ({wanted}) must be between 1 and EvaluationPeriods ({periods}).")
    treat = kwargs.get("treat_missing_data")
    if treat is not None and treat not in TREAT_MISSING:
        raise ValidationError(f"TreatMissingData {treat!r} is not one of {', '.join(TREAT_MISSING)}.")


def _put_metric_alarm(original):
    def put_metric_alarm(self: CloudWatchBackend, name: str, *args, **kwargs) -> Alarm:
        kind = "CompositeAlarm" if kwargs.get("rule") is not None else "MetricAlarm"
        before = self.alarms.get(name)
        if before is not None and alarm_type(before) != kind:
            raise ValidationError(
                f"Alarm {name} is a {alarm_type(before)}: a {kind} cannot replace it. Choose another name, "
                "or delete the alarm first."
            )
        if kind == "MetricAlarm":
            params = dict(
                zip(
                    (
                        "namespace",
                        "metric_name",
                        "comparison_operator",
                        "evaluation_periods",
                        "period",
                        "threshold",
                        "statistic",
                        "description",
                        "dimensions",
                        "alarm_actions",
                    ),
                    args,
                    strict=False,
                )
            )
            _check_alarm({**params, **kwargs})
        alarm = original(self, name, *args, **kwargs)
        when = utcnow()
        if before is not None:  # an update keeps the state, as CloudWatch does
            alarm.state_value, alarm.state_reason = before.state_value, before.state_reason
            alarm.state_reason_data, alarm.state_updated_timestamp = (
                before.state_reason_data,
                before.state_updated_timestamp,
            )
            alarm.state_transitioned_timestamp = getattr(before, "state_transitioned_timestamp", when)
        else:
            alarm.state_value, alarm.state_reason, alarm.state_reason_data = (
                "INSUFFICIENT_DATA",
                "Unchecked: Initial alarm creation",
                None,
            )
            alarm.state_updated_timestamp = alarm.state_transitioned_timestamp = when
        alarm.history = []  # moto's own list of tuples: the history is kept in alarm_history
        service = bound_service()
        if service is not None:
            verb = "updated" if before is not None else "created"
            service.history.add(
                self.account_id,
                self.region_name,
                name,
                "ConfigurationUpdate",
                f'Alarm "{name}" {verb}',
                {"version": "1.0", "type": "Update" if before is not None else "Create"},
                when,
                kind,
            )
            service.forget(self.account_id, self.region_name, name)  # evaluated at the next tick
        return alarm

    return put_metric_alarm


def set_alarm_state(self: CloudWatchBackend, alarm_name: str, reason: str, reason_data: str, state_value: str) -> None:
    """SetAlarmState: the state, reason and data given, announced and acted on like any change."""
    if reason_data is not None:
        try:
            json.loads(reason_data)
        except ValueError:
            raise InvalidFormat("StateReasonData is not valid JSON.") from None
    alarm = self.alarms.get(alarm_name)
    if alarm is None:
        raise ResourceNotFound(f"Alarm {alarm_name} not found.")
    if state_value not in ("OK", "ALARM", "INSUFFICIENT_DATA"):
        raise ValidationError(
            f"1 validation error detected: Value '{state_value}' at 'stateValue' failed to satisfy constraint: "
            "Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]"
        )
    service = bound_service()
    if service is None:
        alarm.state_value, alarm.state_reason, alarm.state_reason_data = state_value, reason, reason_data
        return
    actions: list = []
    service.transition(self, alarm, state_value, reason, reason_data, actions)
    service.run_later(actions)  # the next evaluation judges the data again (a composite: its next child change)


def _delete_alarms(original):
    def delete_alarms(self: CloudWatchBackend, alarm_names: list[str]) -> None:
        present = {name: alarm_type(self.alarms[name]) for name in alarm_names if name in self.alarms}
        original(self, alarm_names)
        service = bound_service()
        if service is not None:
            for name, kind in present.items():
                service.forget(self.account_id, self.region_name, name)
                service.history.add(
                    self.account_id,
                    self.region_name,
                    name,
                    "ConfigurationUpdate",
                    f'Alarm "{name}" deleted',
                    {"version": "1.0", "type": "Delete"},
                    utcnow(),
                    kind,
                )

    return delete_alarms


def describe_alarm_history(self: CloudWatchResponse) -> ActionResult:
    """DescribeAlarmHistory, which moto lacks."""
    service = bound_service()
    items = service.history.items(self.current_account, self.region) if service else []
    name = self._get_param("AlarmName")
    kind = self._get_param("HistoryItemType")
    types = self._get_param("AlarmTypes") or ["MetricAlarm"]  # as CloudWatch: metric alarms unless asked
    start, end = self._get_param("StartDate"), self._get_param("EndDate")
    if kind and kind not in ("ConfigurationUpdate", "StateUpdate", "Action", "AlarmContributorStateUpdate"):
        raise ValidationError(f"HistoryItemType {kind!r} is not ConfigurationUpdate, StateUpdate or Action.")
    chosen = [
        item
        for item in items
        if (not name or item["AlarmName"] == name)
        and (not kind or item["HistoryItemType"] == kind)
        and item["AlarmType"] in types
        and (start is None or item["Timestamp"] >= _epoch(start))
        and (end is None or item["Timestamp"] <= _epoch(end))
    ]
    if (self._get_param("ScanBy") or "TimestampDescending") == "TimestampDescending":
        chosen.reverse()
    try:
        offset = int(self._get_param("NextToken") or 0)
    except ValueError:
        raise InvalidParameterValue("The NextToken is not valid.") from None
    size = int(self._get_param("MaxRecords") or 100)
    page = chosen[offset : offset + size]
    result: dict[str, Any] = {
        "AlarmHistoryItems": [
            {**item, "Timestamp": datetime.fromtimestamp(item["Timestamp"], utcnow().tzinfo)} for item in page
        ]
    }
    if offset + size < len(chosen):
        result["NextToken"] = str(offset + size)
    return ActionResult(result)


def _epoch(moment) -> float:
    from localcloud.services.cloudwatch.metrics_api import epoch

    return epoch(moment)


def install() -> None:
    seam.patch(
        CloudWatchBackend,
        "put_metric_alarm",
        wrap=_put_metric_alarm,
        why="an alarm is checked, starts in INSUFFICIENT_DATA and keeps its state on update; history is kept",
        until=UNTIL,
    )
    seam.patch(
        CloudWatchBackend,
        "set_alarm_state",
        value=set_alarm_state,
        why="SetAlarmState is recorded in the history, announced on EventBridge and runs the state's actions",
        until=UNTIL,
    )
    seam.patch(
        CloudWatchBackend,
        "delete_alarms",
        wrap=_delete_alarms,
        why="a deleted alarm leaves its history and stops being evaluated",
        until=UNTIL,
    )
    seam.patch(
        CloudWatchResponse,
        "describe_alarm_history",
        value=describe_alarm_history,
        why="DescribeAlarmHistory, which moto lacks, from the local alarm history",
        until="moto keeping and serving alarm history",
    )
    composite_alarms.install()
