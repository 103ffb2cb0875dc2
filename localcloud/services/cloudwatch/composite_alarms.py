"""Composite alarms: an ``AlarmRule`` over other alarms' states, judged whenever one of them changes.

moto 5.2.5 has no PutCompositeAlarm; its alarm record has a ``rule`` field that nothing reads. Here
PutCompositeAlarm checks the rule as CloudWatch does (syntax, and that every alarm it names exists),
keeps the record through ``put_metric_alarm`` (so it is snapshotted like any alarm) and judges it
at once. After that a composite is judged when one of its children changes state (``AlarmService``
calls ``judge`` for every ``parents`` of the alarm it has just moved), never on a schedule. The
rule is true: ALARM, else OK; a composite is INSUFFICIENT_DATA only between creation and its first
judgement, as on AWS.

The grammar (CloudWatch's): ``ALARM(x)``, ``OK(x)``, ``INSUFFICIENT_DATA(x)`` where ``x`` is an
alarm name or ARN, in double quotes or bare (a bare name ends at a space or parenthesis); ``TRUE``,
``FALSE``; ``NOT`` binds tightest, then ``AND``, then ``OR``; parentheses group. Errors are worded
as CloudWatch words them: ``Error in AlarmRule [Unsupported token 'x' at char 12, must be: ')']``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from moto.cloudwatch.exceptions import InvalidParameterValue, ValidationError
from moto.cloudwatch.models import Alarm, CloudWatchBackend
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult, EmptyResult

from localcloud.core import moto_seam as seam
from localcloud.services.cloudwatch.alarm_evaluation import aws_time

FUNCTIONS = ("ALARM", "OK", "INSUFFICIENT_DATA")
MAX_RULE_LENGTH = 10240
ALARM_TYPES = ("CompositeAlarm", "MetricAlarm")
StateOf = Callable[[str], str | None]  # an alarm reference -> its state, None when no such alarm


class RuleError(ValueError):
    """The rule does not parse; the message is CloudWatch's."""


# the rule ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    text: str
    at: int  # CloudWatch counts characters from 0
    quoted: bool = False


@dataclass(frozen=True)
class Constant:
    truth: bool

    def holds(self, state_of: StateOf) -> bool:
        return self.truth


@dataclass(frozen=True)
class InState:
    state: str
    alarm: str  # name or ARN, as the rule writes it

    def holds(self, state_of: StateOf) -> bool:
        return state_of(self.alarm) == self.state


@dataclass(frozen=True)
class Not:
    operand: Rule

    def holds(self, state_of: StateOf) -> bool:
        return not self.operand.holds(state_of)


@dataclass(frozen=True)
class Both:
    left: Rule
    right: Rule

    def holds(self, state_of: StateOf) -> bool:
        return self.left.holds(state_of) and self.right.holds(state_of)


@dataclass(frozen=True)
class Either:
    left: Rule
    right: Rule

    def holds(self, state_of: StateOf) -> bool:
        return self.left.holds(state_of) or self.right.holds(state_of)


Rule = Constant | InState | Not | Both | Either


def _tokens(rule: str) -> list[Token]:
    found, index = [], 0
    while index < len(rule):
        char = rule[index]
        if char.isspace():
            index += 1
        elif char in "()":
            found.append(Token(char, index))
            index += 1
        elif char == '"':
            end = rule.find('"', index + 1)
            if end < 0:
                raise RuleError(f"Error in AlarmRule [Unterminated quoted alarm name at char {index}]")
            found.append(Token(rule[index + 1 : end], index, quoted=True))
            index = end + 1
        else:
            end = index
            while end < len(rule) and not rule[end].isspace() and rule[end] not in '()"':
                end += 1
            found.append(Token(rule[index:end], index))
            index = end
    return found


class _Parser:
    def __init__(self, rule: str):
        self.rule = rule
        self.tokens = _tokens(rule)
        self.next = 0

    def parse(self) -> Rule:
        parsed = self._either()
        if self.next < len(self.tokens):
            raise self._unsupported(self.tokens[self.next])
        return parsed

    def _peek(self) -> Token | None:
        return self.tokens[self.next] if self.next < len(self.tokens) else None

    def _take(self) -> Token:
        token = self._peek()
        if token is None:
            raise RuleError(f"Error in AlarmRule [Unexpected end of rule at char {len(self.rule)}]")
        self.next += 1
        return token

    @staticmethod
    def _unsupported(token: Token, must_be: str | None = None) -> RuleError:
        shown = f'"{token.text}"' if token.quoted else token.text
        tail = f", must be: '{must_be}'" if must_be else ""
        return RuleError(f"Error in AlarmRule [Unsupported token '{shown}' at char {token.at}{tail}]")

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token is not None and not token.quoted and token.text == word:
            self.next += 1
            return True
        return False

    def _expect(self, text: str) -> None:
        token = self._take()
        if token.quoted or token.text != text:
            raise self._unsupported(token, text)

    def _either(self) -> Rule:
        parsed = self._both()
        while self._keyword("OR"):
            parsed = Either(parsed, self._both())
        return parsed

    def _both(self) -> Rule:
        parsed = self._negated()
        while self._keyword("AND"):
            parsed = Both(parsed, self._negated())
        return parsed

    def _negated(self) -> Rule:
        if self._keyword("NOT"):
            return Not(self._negated())
        return self._primary()

    def _primary(self) -> Rule:
        token = self._take()
        if not token.quoted and token.text == "(":
            inner = self._either()
            self._expect(")")
            return inner
        if not token.quoted and token.text in ("TRUE", "FALSE"):
            return Constant(token.text == "TRUE")
        if not token.quoted and token.text in FUNCTIONS:
            self._expect("(")
            alarm = self._take()
            if not alarm.quoted and alarm.text in ("(", ")"):
                raise self._unsupported(alarm)
            if not alarm.text:
                raise RuleError(f"Error in AlarmRule [Empty alarm name at char {alarm.at}]")
            self._expect(")")
            return InState(token.text, alarm.text)
        raise self._unsupported(token)


@lru_cache(maxsize=1024)
def parse(rule: str) -> Rule:
    """The rule's tree; raises RuleError with CloudWatch's message (rules are cached: they are judged often)."""
    return _Parser(rule).parse()


def references(rule: Rule) -> list[str]:
    """The alarms a rule names, in order, once each."""
    found: list[str] = []

    def walk(node: Rule) -> None:
        if isinstance(node, InState):
            if node.alarm not in found:
                found.append(node.alarm)
        elif isinstance(node, Not):
            walk(node.operand)
        elif isinstance(node, Both | Either):
            walk(node.left)
            walk(node.right)

    walk(rule)
    return found


# the alarms it names ----------------------------------------------------------------------
def resolve(backend: CloudWatchBackend, reference: str) -> Alarm | None:
    """The alarm a rule names, by name or by ARN (the ARN's account and Region are this backend's)."""
    if reference.startswith("arn:"):
        name = reference.split(":alarm:", 1)[1] if ":alarm:" in reference else ""
        alarm = backend.alarms.get(name)
        return alarm if alarm is not None and alarm.alarm_arn == reference else None
    return backend.alarms.get(reference)


def check_rule(backend: CloudWatchBackend, rule: str | None) -> None:
    """What PutCompositeAlarm refuses: a missing, too long or malformed rule, or one naming absent alarms."""
    if not rule:
        raise ValidationError(
            "1 validation error detected: Value null at 'alarmRule' failed to satisfy constraint: "
            "Member must not be null"
        )
    if len(rule) > MAX_RULE_LENGTH:
        raise ValidationError(
            f"1 validation error detected: Value at 'alarmRule' failed to satisfy constraint: Member must have "
            f"length less than or equal to {MAX_RULE_LENGTH}"
        )
    try:
        parsed = parse(rule)
    except RuleError as error:
        raise ValidationError(str(error)) from None
    missing = [reference for reference in references(parsed) if resolve(backend, reference) is None]
    if missing:
        raise ValidationError(
            f"Could not save the composite alarm as alarms [{', '.join(missing)}] in the alarm rule do not exist"
        )


def children(backend: CloudWatchBackend, composite: Alarm) -> list[Alarm]:
    found = (resolve(backend, reference) for reference in references(parse(composite.rule)))
    return [alarm for alarm in found if alarm is not None]


def parents(backend: CloudWatchBackend, alarm: Alarm) -> list[Alarm]:
    """The composite alarms whose rule names ``alarm`` (by name or ARN)."""
    found = []
    for candidate in list(backend.alarms.values()):
        if candidate.rule is None:
            continue
        try:
            named = references(parse(candidate.rule))
        except RuleError:
            continue  # checked when it was put: cannot happen, but one bad record must not stop the others
        if alarm.name in named or alarm.alarm_arn in named:
            found.append(candidate)
    return found


# judging ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Judgement:
    state: str
    reason: str
    reason_data: str


def _spoken(moment: datetime) -> str:
    """The composite StateReason's time: Friday 04 August, 2023 12:54:46 UTC."""
    return moment.strftime("%A %d %B, %Y %H:%M:%S UTC")


def judge(backend: CloudWatchBackend, composite: Alarm, trigger: Alarm | None) -> Judgement | None:
    """The composite's new state when the rule says it changes, else None.

    ``trigger`` is the child whose change led here; StateReason and StateReasonData name it, as
    CloudWatch does ("<arn> transitioned to ALARM at ..."; ``triggeringAlarms``). Judged at
    creation or update there is no trigger: the reason names the child that changed last and the
    data lists every child with its state.
    """

    def state_of(reference: str) -> str | None:
        alarm = resolve(backend, reference)
        return alarm.state_value if alarm is not None else None

    rule = parse(composite.rule)
    state = "ALARM" if rule.holds(state_of) else "OK"
    if state == composite.state_value:
        return None
    named = [trigger] if trigger is not None else children(backend, composite)
    data = {
        "triggeringAlarms": [
            {
                "arn": child.alarm_arn,
                "state": {"value": child.state_value, "timestamp": aws_time(child.state_updated_timestamp.timestamp())},
            }
            for child in named
        ]
    }
    if named:
        latest = max(named, key=lambda child: child.state_updated_timestamp)
        reason = f"{latest.alarm_arn} transitioned to {latest.state_value} at {_spoken(latest.state_updated_timestamp)}"
    else:
        reason = f"Alarm rule {composite.rule} is {'TRUE' if state == 'ALARM' else 'FALSE'}"
    return Judgement(state, reason, json.dumps(data))


# the API ----------------------------------------------------------------------------------
def put_composite_alarm(self: CloudWatchResponse) -> EmptyResult:
    """PutCompositeAlarm, which moto lacks: checked, kept as moto's alarm record, judged at once."""
    if self._get_param("ActionsSuppressor"):
        raise InvalidParameterValue(
            "ActionsSuppressor: the local cloud does not suppress composite alarm actions; leave out "
            "ActionsSuppressor, ActionsSuppressorWaitPeriod and ActionsSuppressorExtensionPeriod."
        )
    put(
        self.cloudwatch_backend,
        self._get_param("AlarmName"),
        self._get_param("AlarmRule"),
        description=self._get_param("AlarmDescription"),
        alarm_actions=self._get_param("AlarmActions", []),
        ok_actions=self._get_param("OKActions", []),
        insufficient_data_actions=self._get_param("InsufficientDataActions", []),
        actions_enabled=self._get_bool_param("ActionsEnabled"),
        tags=self._get_param("Tags", []),
    )
    return EmptyResult()


def put(
    backend: CloudWatchBackend,
    name: str,
    rule: str | None,
    *,
    description: str | None = None,
    alarm_actions: list[str] | None = None,
    ok_actions: list[str] | None = None,
    insufficient_data_actions: list[str] | None = None,
    actions_enabled: bool | None = None,
    tags: list[dict[str, str]] | None = None,
) -> Alarm:
    """Check the rule, keep the composite as moto's alarm record and judge it now (the API's route and
    CloudFormation's ``AWS::CloudWatch::CompositeAlarm``); ValidationError names what is wrong."""
    from localcloud.services.cloudwatch import alarms

    check_rule(backend, rule)
    composite = backend.put_metric_alarm(
        name=name,
        namespace=None,
        metric_name=None,
        comparison_operator=None,
        evaluation_periods=None,
        period=None,
        threshold=None,
        statistic=None,
        description=description,
        dimensions=[],
        alarm_actions=alarm_actions or [],
        ok_actions=ok_actions or [],
        insufficient_data_actions=insufficient_data_actions or [],
        actions_enabled=actions_enabled,
        rule=rule,
        tags=tags or [],
    )
    service = alarms.bound_service()
    if service is not None:
        service.judge_now(backend, composite)
    return composite


def describe_alarms(self: CloudWatchResponse) -> ActionResult:
    """DescribeAlarms with every filter applied together and ``AlarmTypes`` honoured (metric alarms only
    when it is left out, as CloudWatch answers); moto used one filter and returned both kinds."""
    names = self._get_param("AlarmNames", [])
    prefix = self._get_param("AlarmNamePrefix")
    action_prefix = self._get_param("ActionPrefix")
    state = self._get_param("StateValue")
    kinds = self._get_param("AlarmTypes", []) or ["MetricAlarm"]
    unknown = [kind for kind in kinds if kind not in ALARM_TYPES]
    if unknown:
        raise ValidationError(f"AlarmTypes {unknown[0]!r} is not one of {', '.join(ALARM_TYPES)}.")
    chosen = [
        alarm
        for alarm in list(self.cloudwatch_backend.alarms.values())
        if (not names or alarm.name in names)
        and (not prefix or alarm.name.startswith(prefix))
        and (not action_prefix or any(arn.startswith(action_prefix) for arn in alarm.alarm_actions or []))
        and (not state or alarm.state_value == state)
    ]
    return ActionResult(
        {
            "MetricAlarms": [a for a in chosen if a.rule is None] if "MetricAlarm" in kinds else [],
            "CompositeAlarms": [a for a in chosen if a.rule is not None] if "CompositeAlarm" in kinds else [],
        }
    )


def install() -> None:
    seam.patch(
        CloudWatchResponse,
        "put_composite_alarm",
        value=put_composite_alarm,
        why="PutCompositeAlarm, which moto lacks: the rule is checked, kept as an alarm record and judged",
        until="moto storing and evaluating composite alarms",
    )
    seam.patch(
        CloudWatchResponse,
        "describe_alarms",
        value=describe_alarms,
        why="DescribeAlarms honours AlarmTypes (metric alarms only by default) and combines its filters",
        until="moto filtering DescribeAlarms by AlarmTypes",
    )
