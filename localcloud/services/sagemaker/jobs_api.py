"""SageMaker's job API (Create/Describe/List Processing and Training jobs) over the job runner.

moto records jobs but runs nothing; here a created job really runs, in the background, and its
record reports real statuses, times and failure reasons.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from localcloud.core.errors import AwsError, validation_error
from localcloud.services.sagemaker.jobs import JobRunner, JobStore, check_request

KINDS = {
    "processing": ("ProcessingJobName", "ProcessingJobStatus", "ProcessingJobSummaries", "ProcessingJobArn"),
    "training": ("TrainingJobName", "TrainingJobStatus", "TrainingJobSummaries", "TrainingJobArn"),
}


class JobsService:
    def __init__(self, cloud):
        self.cloud = cloud
        self.runner = JobRunner(cloud)
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sagemaker-job")
        self._names_lock = threading.Lock()

    def create(self, kind: str, request: dict, region: str) -> dict:
        name_key, _, _, arn_key = KINDS[kind]
        name = request.get(name_key)
        if not name:
            raise validation_error(f"{name_key} is required")
        check_request(kind, request)  # before anything is recorded: a refused request leaves nothing
        with self._names_lock:
            if self.runner.store.load(kind, name):
                raise AwsError("ResourceInUse", f"{kind.capitalize()} job {name} already exists")
            make = self.runner.processing_record if kind == "processing" else self.runner.training_record
            record = make(request, region)
            self.runner.store.save(kind, record)
        run = self.runner.run_processing if kind == "processing" else self.runner.run_training
        self.pool.submit(run, record)
        return {arn_key: record[arn_key]}

    def describe(self, kind: str, name: str) -> dict:
        JobStore.RULES[kind].check(name)
        record = self.runner.store.load(kind, name)
        if not record:
            label = "Processing job" if kind == "processing" else "Training job"
            raise AwsError(
                "ValidationException",
                f"Could not find requested job with name {name}"
                if kind == "training"
                else f"{label} {name} does not exist",
            )
        return record

    def list(self, kind: str, body: dict) -> dict:
        name_key, status_key, summaries_key, arn_key = KINDS[kind]
        records = self.runner.store.all(kind)
        if body.get("NameContains"):
            records = [r for r in records if body["NameContains"] in r[name_key]]
        if body.get("StatusEquals"):
            records = [r for r in records if r[status_key] == body["StatusEquals"]]
        records.sort(key=lambda r: r["CreationTime"], reverse=body.get("SortOrder", "Descending") == "Descending")
        keep = (
            name_key,
            arn_key,
            status_key,
            "CreationTime",
            "LastModifiedTime",
            "FailureReason",
            "ProcessingEndTime",
            "TrainingEndTime",
        )
        return {summaries_key: [{k: r[k] for k in keep if k in r} for r in records[: body.get("MaxResults", 100)]]}

    def resume(self) -> None:
        """Jobs cut off by a stop run again from the start, as a restarted instance would. A pipeline's
        job is not: its execution runs the step again as a new job, so the cut-off one ends Failed,
        saying why, instead of staying InProgress forever."""
        for kind in KINDS:
            status_key = KINDS[kind][1]
            for record in self.runner.store.all(kind):
                if record[status_key] != "InProgress":
                    continue
                execution = record.get("PipelineExecutionArn")
                if execution:
                    record[status_key] = "Failed"
                    if kind == "training":
                        record["SecondaryStatus"] = "Failed"
                    record["FailureReason"] = (
                        "InternalServerError: the local cloud stopped while this job ran; pipeline execution "
                        f"{execution} runs its step again as a new job"
                    )
                    record["ProcessingEndTime" if kind == "processing" else "TrainingEndTime"] = time.time()
                    self.runner.store.save(kind, record)
                    continue
                run = self.runner.run_processing if kind == "processing" else self.runner.run_training
                self.pool.submit(run, record)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def install(cloud) -> JobsService:
    service = JobsService(cloud)
    cloud.jobs = service  # pipeline steps run their jobs through the same runner
    route = cloud.gateway.json
    for kind, label in (("processing", "Processing"), ("training", "Training")):
        route("SageMaker", f"Create{label}Job")(lambda call, k=kind: service.create(k, call.body, call.region))
        route("SageMaker", f"Describe{label}Job")(
            lambda call, k=kind: service.describe(k, call.body.get(KINDS[k][0], ""))
        )
        route("SageMaker", f"List{label}Jobs")(lambda call, k=kind: service.list(k, call.body))
    return service
