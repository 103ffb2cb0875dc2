"""EventBridge schedules: rules with a ScheduleExpression fire ``Scheduled Event``s at their targets.

moto stores schedule rules and never fires them. Here a thread looks at every enabled schedule
rule once a second and fires the ones whose time has come, through the same delivery as any
matched event (so a CodePipeline target starts an execution). ``rate(...)`` and ``cron(...)`` are
understood as EventBridge defines them (UTC; six cron fields with ``?``, day of week 1-7 = SUN-SAT).
Next fire times live in memory: after a restart a schedule starts again from then, and, as on AWS,
runs missed while it was down are not caught up.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta

from croniter import croniter
from moto.events.models import Rule, events_backends

log = logging.getLogger("localcloud.services.events.scheduler")
RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
CRON = re.compile(r"^cron\((.*)\)$")
UNITS = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleError(ValueError):
    """A schedule expression EventBridge would refuse; the message says what is wrong."""


def _cron_fields(expression: str) -> str:
    """EventBridge's six cron fields as the five that croniter reads (years other than * refused)."""
    fields = expression.split()
    if len(fields) != 6:
        raise ScheduleError(f"cron({expression}) must have 6 fields: minutes hours day-of-month month day-of-week year")
    minute, hour, day, month, weekday, year = fields
    if year not in ("*", "?"):
        raise ScheduleError(f"cron({expression}): only '*' is supported for the year field locally")
    # EventBridge numbers weekdays 1-7 from Sunday; cron numbers them 0-6.
    weekday = re.sub(r"\d", lambda m: str((int(m.group()) - 1) % 7), weekday)
    return " ".join(f.replace("?", "*") for f in (minute, hour, day, month, weekday))


def next_fire(expression: str, after: datetime) -> datetime:
    rate = RATE.match(expression.strip())
    if rate:
        count, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if count < 1:
            raise ScheduleError(f"{expression}: the rate must be at least 1")
        return after + timedelta(seconds=count * UNITS[unit])
    cron = CRON.match(expression.strip())
    if cron:
        try:
            return croniter(_cron_fields(cron.group(1)), after).get_next(datetime)
        except (ValueError, KeyError) as error:
            raise ScheduleError(f"{expression}: {error}") from error
    raise ScheduleError(f"{expression!r} is neither rate(...) nor cron(...)")


def scheduled_event(rule: Rule, now: datetime) -> dict:
    """In the form moto's delivery expects (times as epoch seconds; it renders them per target)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule.account_id,
        "time": now.timestamp(),
        "region": rule.region_name,
        "resources": [rule.arn],
        "detail": {},
        "ingestion-time": now.timestamp(),
    }


class Scheduler:
    def __init__(self, cloud):
        self.cloud = cloud
        self.next: dict[str, datetime] = {}
        self.invalid: set[str] = set()
        self._thread: threading.Thread | None = None

    def schedule_rules(self) -> list[Rule]:
        rules = []
        for accounts in events_backends.values():
            for backend in accounts.values():
                for bus in backend.event_buses.values():
                    rules += [r for r in bus.rules.values() if r.scheduled_expression and r.state == "ENABLED"]
        return rules

    def tick(self, now: datetime | None = None) -> list[str]:
        """Fire every schedule that is due at ``now``; returns the ARNs of the rules fired."""
        now = now or datetime.now(UTC)
        fired = []
        with self.cloud.state.lock:
            rules = self.schedule_rules()
            for rule in rules:
                key = f"{rule.arn} {rule.scheduled_expression}"
                try:
                    due = self.next.setdefault(key, next_fire(rule.scheduled_expression, now))
                    if now < due:
                        continue
                    self.next[key] = next_fire(rule.scheduled_expression, now)
                except ScheduleError as error:
                    if key not in self.invalid:
                        self.invalid.add(key)
                        log.error("rule %s never fires: %s", rule.name, error)
                    continue
                rule.send_to_targets(scheduled_event(rule, now))
                fired.append(rule.arn)
            if fired:
                self.cloud.state.save_all_backends()
            live = {f"{r.arn} {r.scheduled_expression}" for r in rules}
            self.next = {k: v for k, v in self.next.items() if k in live}
        return fired

    def _run(self) -> None:
        while not self.cloud.stopping.wait(1.0):
            try:
                self.tick()
            except Exception:  # one bad tick must not stop every schedule
                log.exception("schedule tick failed")

    def resume(self) -> None:
        self._thread = threading.Thread(target=self._run, name="eventbridge-scheduler", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        if self._thread:
            self._thread.join(timeout=5)


def install(cloud) -> Scheduler:
    cloud.scheduler = Scheduler(cloud)
    return cloud.scheduler
