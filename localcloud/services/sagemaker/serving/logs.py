"""Model server output to CloudWatch Logs, as SageMaker ships a container's stdout.

Each server writes to a log file under the state folder; one thread tails the files and appends new
lines to the log group ``/aws/sagemaker/Endpoints/<endpoint>``, one stream per instance
(``<variant>/<instance id>``, as SageMaker names them), in the local cloud's Logs service.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from moto.logs.models import logs_backends

from localcloud.services.sagemaker.serving.responses import log_group, log_stream

POLL_SECONDS = 1.0
MAX_EVENT_BYTES = 256 * 1024 - 26  # CloudWatch's limit per event, header included


@dataclass
class _Followed:
    account: str
    region: str
    group: str
    stream: str
    path: Path
    offset: int = 0


class LogShipper:
    """One thread for all model servers of a local cloud."""

    def __init__(self, state, poll_seconds: float = POLL_SECONDS):
        self.state = state
        self.poll_seconds = poll_seconds
        self._followed: dict[Path, _Followed] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def follow(self, key: tuple[str, str, str], variant: str, instance_id: str, path: Path) -> None:
        account, region, endpoint_name = key
        stream = log_stream(variant, instance_id)
        with self._lock:
            self._followed[path] = _Followed(account, region, log_group(endpoint_name), stream, path)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="endpoint-logs", daemon=True)
                self._thread.start()

    def unfollow(self, path: Path) -> None:
        """Ship what is left of ``path``, then stop following it."""
        with self._lock:
            followed = self._followed.pop(path, None)
        if followed is not None:
            self._ship([followed])

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            remaining, self._followed = list(self._followed.values()), {}
        self._ship(remaining)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            with self._lock:
                followed = list(self._followed.values())
            self._ship(followed)

    def _ship(self, followed: list[_Followed]) -> None:
        shipped: dict[tuple[str, str, str, str], list[dict]] = {}
        for entry in followed:
            lines = self._new_lines(entry)
            if lines:
                now = int(time.time() * 1000)
                events = [{"timestamp": now, "message": line[:MAX_EVENT_BYTES]} for line in lines]
                shipped.setdefault((entry.account, entry.region, entry.group, entry.stream), []).extend(events)
        self._put(shipped)

    def note(self, key: tuple[str, str, str], variant: str, message: str) -> None:
        """Append a line from the local cloud itself to the streams of a variant's instances (a data
        capture that cannot be written, for one): where the endpoint's owner already looks."""
        account, region, endpoint_name = key
        group = log_group(endpoint_name)
        with self._lock:
            streams = {
                entry.stream
                for entry in self._followed.values()
                if (entry.account, entry.region, entry.group) == (account, region, group)
                and entry.stream.startswith(f"{variant}/")
            }
        event = {"timestamp": int(time.time() * 1000), "message": message[:MAX_EVENT_BYTES]}
        self._put({(account, region, group, stream): [event] for stream in sorted(streams)})

    def _put(self, shipped: dict[tuple[str, str, str, str], list[dict]]) -> None:
        if not shipped:
            return
        with self.state.lock:
            for (account, region, group_name, stream_name), events in shipped.items():
                backend = logs_backends[account][region]
                backend.ensure_log_group(group_name)
                group = backend.groups[group_name]
                if stream_name not in group.streams:
                    group.create_log_stream(stream_name)
                backend.put_log_events(group_name, stream_name, events)
            self.state.save_backends("logs")

    @staticmethod
    def _new_lines(entry: _Followed) -> list[str]:
        """Complete lines appended since the last look (a partial last line waits for its end)."""
        try:
            with open(entry.path, "rb") as log:
                log.seek(entry.offset)
                data = log.read()
        except OSError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        entry.offset += end + 1
        return [line for line in data[:end].decode(errors="replace").split("\n") if line.strip()]
