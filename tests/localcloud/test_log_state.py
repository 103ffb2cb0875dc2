"""CloudWatch Logs across restarts: events are rows of their own, appended per snapshot, so the
snapshot does not grow with the lines written and a write does not rewrite the lines before it."""

from __future__ import annotations

import itertools
import sqlite3
import time

import boto3
import pytest

from localcloud.core.server import LocalCloud
from tests.localcloud.conftest import reset_moto

GROUP = "/aws/sagemaker/ProcessingJobs"
_CLOCK = itertools.count(int(time.time() * 1000))  # every event a later timestamp than the one before


@pytest.fixture()
def restart(tmp_path):
    """``restart()`` stops the running cloud (if any) and starts one on the same folder: its logs client."""
    running = []

    def again():
        if running:
            running.pop().stop()
        reset_moto()
        cloud = LocalCloud(tmp_path).start()
        running.append(cloud)
        env = cloud.client_environment()
        logs = boto3.client(
            "logs",
            endpoint_url=cloud.url,
            region_name="us-east-1",
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        return cloud, logs

    yield again
    for cloud in running:
        cloud.stop()
    reset_moto()


def _query(cloud, sql: str):
    with sqlite3.connect(cloud.state.moto_file) as database:
        return database.execute(sql).fetchall()


def _put(logs, stream: str, messages: list[str]) -> None:
    events = [{"timestamp": next(_CLOCK), "message": message} for message in messages]
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)


def _messages(logs, stream: str) -> list[str]:
    found, token = [], None
    while True:
        extra = {"nextToken": token} if token else {}
        page = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True, **extra)
        found += [event["message"] for event in page["events"]]
        if not page["events"] or page["nextForwardToken"] == token:
            return found
        token = page["nextForwardToken"]


def test_the_snapshot_does_not_grow_with_log_lines_and_old_lines_are_not_rewritten(restart):
    cloud, logs = restart()
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="job-1/algo-1")
    _put(logs, "job-1/algo-1", ["first line"])
    few = len(_query(cloud, "SELECT backends FROM snapshot")[0][0])
    for batch in range(40):
        _put(logs, "job-1/algo-1", [f"batch {batch} line {line} " + "x" * 200 for line in range(50)])
    assert len(_query(cloud, "SELECT backends FROM snapshot")[0][0]) < few + 2048, "log lines went into the snapshot"
    rows = _query(cloud, "SELECT first, events FROM log_events ORDER BY first")
    assert [first for first, _ in rows] == [0, *range(1, 2001, 50)], "a batch a write, earlier ones untouched"
    earlier = rows[:5]
    _put(logs, "job-1/algo-1", ["one more"])
    assert _query(cloud, "SELECT first, events FROM log_events ORDER BY first")[:5] == earlier


def test_log_events_survive_restarts_in_order_and_a_deleted_streams_rows_go(restart):
    cloud, logs = restart()
    logs.create_log_group(logGroupName=GROUP)
    for stream in ("kept/algo-1", "dropped/algo-1"):
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        _put(logs, stream, [f"{stream} {index}" for index in range(30)])
    _put(logs, "kept/algo-1", ["after"])

    cloud, logs = restart()
    expected = [f"kept/algo-1 {index}" for index in range(30)] + ["after"]
    assert _messages(logs, "kept/algo-1") == expected
    described = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix="kept")["logStreams"][0]
    assert described["storedBytes"] == sum(len(message) for message in expected)
    _put(logs, "kept/algo-1", ["after the restart"])
    logs.delete_log_stream(logGroupName=GROUP, logStreamName="dropped/algo-1")
    assert len(_query(cloud, "SELECT DISTINCT stream FROM log_events")) == 1, "a deleted stream's rows stay"

    cloud, logs = restart()
    assert _messages(logs, "kept/algo-1") == [*expected, "after the restart"]
    names = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=GROUP)["logStreams"]]
    assert names == ["kept/algo-1"]
    filtered = logs.filter_log_events(logGroupName=GROUP, filterPattern="restart")["events"]
    assert [event["message"] for event in filtered] == ["after the restart"]
