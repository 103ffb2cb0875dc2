"""Stopping model servers: their process group counts as gone once nothing in it runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from localcloud.services.sagemaker.serving import fleet


def test_a_group_whose_processes_are_all_zombies_is_gone_at_once():
    """Once bwrap is killed, its inner process waits for the machine's init to reap it, which can take
    seconds or never come: stopping a model server must not wait for that."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        assert fleet._group_running(process.pid)
        os.killpg(process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while fleet._group_running(process.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        # not reaped yet: a zombie of ours, as the sandbox's inner process is of init
        assert Path(f"/proc/{process.pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
        started = time.monotonic()
        fleet._wait_group_gone(process.pid)
        assert time.monotonic() - started < 1
    finally:
        process.kill()
        process.wait()
