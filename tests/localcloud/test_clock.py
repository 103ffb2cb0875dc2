"""The local time scale: one factor for every AWS wait, and a clear stop on a bad value."""

from __future__ import annotations

import subprocess
import sys

import pytest

from localcloud.core import clock


def test_default_scale_makes_the_shipped_canary_bake_short(monkeypatch):
    monkeypatch.delenv(clock.ENVIRONMENT_VARIABLE, raising=False)
    assert clock.local_seconds(600) == pytest.approx(600 / clock.DEFAULT_TIME_SCALE)
    assert clock.local_seconds(600) < 30


def test_scale_from_the_environment_applies_to_every_wait_alike(monkeypatch):
    monkeypatch.setenv(clock.ENVIRONMENT_VARIABLE, "60")
    assert clock.local_seconds(60) == pytest.approx(1.0)
    assert clock.local_seconds(300) == pytest.approx(5.0)
    assert clock.aws_seconds(clock.local_seconds(123)) == pytest.approx(123)


@pytest.mark.parametrize("value", ["fast", "0.5", "0", "-3", "inf", "nan"])
def test_a_bad_scale_is_refused_with_what_to_set(monkeypatch, value):
    monkeypatch.setenv(clock.ENVIRONMENT_VARIABLE, value)
    with pytest.raises(clock.TimeScaleError, match="LOCALCLOUD_TIME_SCALE"):
        clock.local_seconds(1)


def test_the_server_does_not_start_on_a_bad_scale(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "localcloud.core.server", "--state-dir", str(tmp_path), "--port", "0"],
        env={"LOCALCLOUD_TIME_SCALE": "fast", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "LOCALCLOUD_TIME_SCALE='fast'" in result.stderr
    assert "unset it" in result.stderr
