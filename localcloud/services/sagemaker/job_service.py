"""What tuning and transform jobs share: records as JSON, a small pool of threads, and what a stop does.

A job record lives in ``<state>/<folder>/<name>.json``. Jobs run on a bounded pool (the machine
has few cores). When the local cloud starts again, a job a stop cut off goes on, unless a pipeline
step owns it: then it ends ``Failed`` saying so, and the step runs a new job.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from localcloud.core.names import Rule

SHUTDOWN_WAIT_SECONDS = 10.0


class JobService:
    FOLDER = ""  # where the records live, under the state folder
    NAME = ""  # the record's name field
    STATUS = ""  # the record's status field
    END_TIME = ""  # the record's end-time field
    KIND = ""  # what the job is called in messages ("tuning job")
    NAME_RULE: Rule

    def __init__(self, cloud, workers: int):
        self.cloud = cloud
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"sagemaker-{self.KIND.split()[0]}")
        self._running: list[Future] = []
        self._lock = threading.RLock()

    def save(self, record: dict[str, Any]) -> None:
        with self._lock:
            record["LastModifiedTime"] = time.time()
            name = self.NAME_RULE.check(record[self.NAME]).lower()
            self.cloud.state.write_json(f"{self.FOLDER}/{name}.json", record)

    def run(self, record: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    # lifecycle ----------------------------------------------------------------------------
    def resume(self) -> None:
        """Jobs cut off by a stop go on; a pipeline's fails, saying why (its step runs a new one)."""
        for record in self.cloud.state.list_json(self.FOLDER):
            if record[self.STATUS] not in ("InProgress", "Stopping"):
                continue
            if record.get("PipelineExecutionArn"):
                record.update(
                    {
                        self.STATUS: "Failed",
                        self.END_TIME: time.time(),
                        "FailureReason": f"InternalServerError: the local cloud stopped while this {self.KIND} ran; "
                        f"pipeline execution {record['PipelineExecutionArn']} runs its step again as a new "
                        f"{self.KIND}",
                    }
                )
                self.save(record)
                continue
            self.submit(record)

    def submit(self, record: dict[str, Any]) -> None:
        self._running = [f for f in self._running if not f.done()] + [self.pool.submit(self.run, record)]

    def shutdown(self) -> None:
        """No new job starts once the cloud stops; the one running may finish (10 s at most), so that
        nothing is written after the cloud is gone."""
        wait(self._running, timeout=SHUTDOWN_WAIT_SECONDS)
        self.pool.shutdown(wait=False, cancel_futures=True)
