"""``localcloud endpoints watch NAME --once`` against a running local cloud, during a canary deployment."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from localcloud.core import config
from localcloud.tools import cli, daemon
from tests.localcloud.tagged_models import (
    AlarmTrip,
    ask,
    make_config,
    put_breachable_alarm,
    runtime_client,
    upload_tagged_model,
    wait_status,
)

SCALE = "300"  # a 3000 s bake takes 10 s


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def background(tmp_path_factory):
    """The daemon the CLI finds through LOCALCLOUD_STATE_DIR, at a fast time scale."""
    state = tmp_path_factory.mktemp("state")
    patch = pytest.MonkeyPatch()
    patch.setenv("LOCALCLOUD_TIME_SCALE", SCALE)
    patch.setenv("LOCALCLOUD_STATE_DIR", str(state))
    status = daemon.start(state, _free_port())
    for key, value in config.client_environment(status.url, state=state).items():
        patch.setenv(key, value)
    yield status
    daemon.stop(state)
    patch.undo()


def frame(capsys, name: str) -> str:
    assert cli.main(["endpoints", "watch", name, "--once"]) == 0
    return capsys.readouterr().out


def test_watch_shows_a_canary_its_traffic_split_alarm_and_rollback(background, tmp_path, capsys):
    sm = config.client(background.url, "sagemaker", state=background.state_dir)
    cloudwatch = config.client(background.url, "cloudwatch", state=background.state_dir)
    s3 = config.client(background.url, "s3", state=background.state_dir)
    make_config(sm, "watched-blue", upload_tagged_model(s3, tmp_path, "blue"), instances=2)
    make_config(sm, "watched-green", upload_tagged_model(s3, tmp_path, "green"), instances=2)
    sm.create_endpoint(EndpointName="watched", EndpointConfigName="watched-blue")
    assert wait_status(sm, "watched")["EndpointStatus"] == "InService"
    put_breachable_alarm(cloudwatch, "watched-guard")

    steady = frame(capsys, "watched")
    assert "status InService  config watched-blue" in steady
    assert "no deployment in progress" in steady

    stop = threading.Event()
    runtime = runtime_client(background.url)

    def load() -> None:
        while not stop.is_set():
            ask(runtime, "watched")

    threads = [threading.Thread(target=load, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        sm.update_endpoint(
            EndpointName="watched",
            EndpointConfigName="watched-green",
            DeploymentConfig={
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "CANARY",
                        "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
                        "WaitIntervalInSeconds": 3000,
                    },
                    "TerminationWaitInSeconds": 0,
                },
                "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "watched-guard"}]},
            },
        )
        deadline = time.monotonic() + 90
        baking = ""
        while time.monotonic() < deadline:  # until the canary bakes and both fleets served in the last minute
            baking = frame(capsys, "watched")
            rows = [line.split() for line in baking.splitlines() if line.startswith("AllTraffic")]
            if "Baking" in baking and len(rows) == 2 and all(float(row[5]) > 0 for row in rows):
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"never saw the canary bake with traffic on both fleets:\n{baking}")
        assert "status Updating  config watched-blue" in baking
        assert "deployment to watched-green:" in baking
        assert "canary capacity of 1 instance(s)" in baking
        serving, deploying = rows
        assert serving[:4] == ["AllTraffic", "watched-blue", "serving", "2/2"]
        assert deploying[:4] == ["AllTraffic", "watched-green", "deploying", "1/2"]  # the canary: 1 of 2 active
        assert "watched-guard  OK" in baking

        with AlarmTrip(cloudwatch, "watched-guard"):
            rolled_back = wait_status(sm, "watched", statuses=("InService",), timeout=60)
            assert rolled_back["EndpointConfigName"] == "watched-blue"
            deadline = time.monotonic() + 10
            while True:  # the trip holds the alarm in ALARM, but a loaded machine may let one evaluation see OK
                after = frame(capsys, "watched")
                if "watched-guard  ALARM" in after or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert "status InService  config watched-blue" in after
    assert "watched-guard  ALARM" in after
    assert "failure reason:" in after and "watched-guard" in after.split("failure reason:")[1]


def test_watch_names_an_unknown_endpoint_and_the_ones_there_are(background, capsys):
    assert cli.main(["endpoints", "watch", "no-such-endpoint", "--once"]) == 1
    error = capsys.readouterr().err
    assert "no endpoint named 'no-such-endpoint'" in error
    assert "localcloud endpoints list" in error


def test_watch_shows_a_composite_rollback_alarms_state(background, tmp_path, capsys):
    sm = config.client(background.url, "sagemaker", state=background.state_dir)
    cloudwatch = config.client(background.url, "cloudwatch", state=background.state_dir)
    s3 = config.client(background.url, "s3", state=background.state_dir)
    make_config(sm, "composed-blue", upload_tagged_model(s3, tmp_path, "blue"))
    make_config(sm, "composed-green", upload_tagged_model(s3, tmp_path, "green"))
    sm.create_endpoint(EndpointName="composed", EndpointConfigName="composed-blue")
    assert wait_status(sm, "composed")["EndpointStatus"] == "InService"
    put_breachable_alarm(cloudwatch, "composed-child")
    cloudwatch.put_composite_alarm(AlarmName="composed-guard", AlarmRule='ALARM("composed-child")')
    sm.update_endpoint(
        EndpointName="composed",
        EndpointConfigName="composed-green",
        DeploymentConfig={
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "composed-guard"}]},
        },
    )
    assert wait_status(sm, "composed", statuses=("InService",), timeout=60)["EndpointConfigName"] == "composed-green"
    shown = frame(capsys, "composed")
    assert "composed-guard  OK" in shown, shown
    assert "MISSING" not in shown, shown
