"""Hyperparameter tuning jobs that really run: CreateHyperParameterTuningJob and its reads.

moto records tuning jobs but runs nothing; here a tuning job plans its training jobs
(``tuning_search.py``), runs them through the job runner one or two at a time (the machine's cores;
``MaxParallelTrainingJobs`` above 2 runs as 2), reads each job's objective from what its program
printed, with the training job definition's ``MetricDefinitions`` regex, as SageMaker reads the
container's logs, and keeps the best. Records are JSON under ``sagemaker/tuning-jobs/``; the plan is
part of the record, so a restarted local cloud goes on with the same jobs.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from localcloud import ACCOUNT_ID
from localcloud.core import names
from localcloud.core.errors import AwsError, validation_error
from localcloud.services.sagemaker import tuning_search
from localcloud.services.sagemaker.job_service import JobService
from localcloud.services.sagemaker.jobs import check_request
from localcloud.services.sagemaker.tuning_search import TuningConfigError

FOLDER = "sagemaker/tuning-jobs"
TUNING_JOB = names.Rule("hyperParameterTuningJobName", r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}", 1, 32)
LOCAL_PARALLEL_LIMIT = 2  # the machine's cores
TOP_SUMMARIES = 50  # a Tuning step's TrainingJobSummaries: the best 50, best first, as SageMaker keeps
STATUS_COUNTERS = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}


def check_tuning_request(request: dict[str, Any]) -> None:
    """Refuse what SageMaker refuses, and what the local cloud cannot run, naming the field."""
    TUNING_JOB.check(request.get("HyperParameterTuningJobName"))
    config = request.get("HyperParameterTuningJobConfig")
    if not isinstance(config, dict):
        raise validation_error("HyperParameterTuningJobConfig is required")
    strategy = config.get("Strategy")
    if strategy not in tuning_search.STRATEGIES:
        raise validation_error(
            f"HyperParameterTuningJobConfig.Strategy {strategy!r}: use one of {', '.join(tuning_search.STRATEGIES)}"
        )
    if strategy == "Hyperband":
        raise validation_error(
            "HyperParameterTuningJobConfig.Strategy Hyperband stops training jobs early on their intermediate "
            "metrics, which the local cloud does not do: use Random or Bayesian (Bayesian runs as Random locally)"
        )
    objective = config.get("HyperParameterTuningJobObjective") or {}
    if objective.get("Type") not in ("Maximize", "Minimize") or not objective.get("MetricName"):
        raise validation_error(
            "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective needs Type (Maximize or Minimize) "
            "and MetricName"
        )
    limits = config.get("ResourceLimits") or {}
    if not isinstance(limits.get("MaxParallelTrainingJobs"), int) or limits["MaxParallelTrainingJobs"] < 1:
        raise validation_error("HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs must be >= 1")
    maximum = limits.get("MaxNumberOfTrainingJobs")
    if maximum is None and strategy != "Grid":
        raise validation_error(
            "HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs is required for the "
            f"{strategy} strategy"
        )
    if maximum is not None and (not isinstance(maximum, int) or maximum < 1):
        raise validation_error("HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs must be >= 1")
    try:
        tuning_search.check_ranges(config.get("ParameterRanges"), strategy)
    except TuningConfigError as error:
        raise validation_error(str(error)) from None
    if request.get("TrainingJobDefinitions"):
        raise validation_error(
            "TrainingJobDefinitions (several algorithms in one tuning job) is not run by the local cloud: "
            "give one TrainingJobDefinition"
        )
    definition = request.get("TrainingJobDefinition")
    if not isinstance(definition, dict):
        raise validation_error("TrainingJobDefinition is required")
    metrics = (definition.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
    metric_names = [m.get("Name") for m in metrics]
    if objective["MetricName"] not in metric_names:
        raise validation_error(
            f"The objective metric {objective['MetricName']!r} has no MetricDefinitions entry in "
            "TrainingJobDefinition.AlgorithmSpecification: add {'Name': ..., 'Regex': ...} for it"
        )
    for metric in metrics:
        try:
            re.compile(metric.get("Regex") or "")
        except re.error as error:
            raise validation_error(f"MetricDefinitions regex for {metric.get('Name')!r} is invalid: {error}") from None
    tuned = {item["Name"] for kind in tuning_search.RANGE_KINDS for item in config["ParameterRanges"].get(kind) or []}
    static = set(definition.get("StaticHyperParameters") or {})
    if tuned & static:
        raise validation_error(
            f"Hyperparameters {sorted(tuned & static)} are both tuned (ParameterRanges) and static "
            "(StaticHyperParameters): keep each in one place"
        )


def final_metrics(lines: list[str], definitions: list[dict[str, str]]) -> dict[str, float]:
    """Each metric's last value in the job's output, read with its regex's first group (SageMaker's way)."""
    found: dict[str, float] = {}
    for definition in definitions:
        pattern = re.compile(definition["Regex"])
        for line in lines:
            for match in pattern.finditer(line):
                try:
                    found[definition["Name"]] = float(match.group(1) if match.groups() else match.group(0))
                except (TypeError, ValueError):
                    continue
    return found


class TuningService(JobService):
    """Tuning jobs for the API and for pipeline Tuning steps alike."""

    FOLDER = FOLDER
    NAME, STATUS, KIND = "HyperParameterTuningJobName", "HyperParameterTuningJobStatus", "tuning job"
    END_TIME = "HyperParameterTuningEndTime"
    NAME_RULE = TUNING_JOB

    def __init__(self, cloud):
        super().__init__(cloud, workers=2)

    # records ----------------------------------------------------------------------------
    def load(self, name: str) -> dict[str, Any]:
        if TUNING_JOB.is_valid(name):
            path = self.cloud.state.root / FOLDER / f"{name.lower()}.json"
            if path.exists():
                return json.loads(path.read_text())
        raise AwsError("ResourceNotFound", f"Amazon SageMaker can't find a tuning job with name {name}")

    # the API ----------------------------------------------------------------------------
    def new_record(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        """Check the request and record the job with its plan; a refused request leaves nothing."""
        check_tuning_request(request)
        name = request["HyperParameterTuningJobName"]
        definition = request["TrainingJobDefinition"]
        planned = tuning_search.plan(request["HyperParameterTuningJobConfig"])
        runs = []
        for index, tuned in enumerate(planned, 1):
            job = f"{name}-{index:03d}-{secrets.token_hex(4)}"
            check_request("training", {"TrainingJobName": job, "InputDataConfig": definition.get("InputDataConfig")})
            runs.append({"TrainingJobName": job, "TunedHyperParameters": tuned})
        now = time.time()
        return {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobArn": f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:hyper-parameter-tuning-job/"
            f"{name.lower()}",
            "HyperParameterTuningJobConfig": request["HyperParameterTuningJobConfig"],
            "TrainingJobDefinition": definition,
            "HyperParameterTuningJobStatus": "InProgress",
            "CreationTime": now,
            "LastModifiedTime": now,
            "TrainingJobStatusCounters": dict(STATUS_COUNTERS),
            "ObjectiveStatusCounters": {"Succeeded": 0, "Pending": len(runs), "Failed": 0},
            "Region": region,
            "Runs": runs,
            **({"WarmStartConfig": request["WarmStartConfig"]} if request.get("WarmStartConfig") else {}),
        }

    def create(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            try:
                self.load(request.get("HyperParameterTuningJobName", ""))
                raise AwsError("ResourceInUse", f"Tuning job {request['HyperParameterTuningJobName']} already exists")
            except AwsError as error:
                if error.code != "ResourceNotFound":
                    raise
            record = self.new_record(request, region)
            self.save(record)
        self.submit(record)
        return {"HyperParameterTuningJobArn": record["HyperParameterTuningJobArn"]}

    def describe(self, name: str) -> dict[str, Any]:
        record = self.load(name)
        hidden = ("Runs", "Region", "PipelineExecutionArn")
        return {k: v for k, v in record.items() if k not in hidden}

    def list(self, body: dict[str, Any]) -> dict[str, Any]:
        records = self.cloud.state.list_json(FOLDER)
        if body.get("NameContains"):
            records = [r for r in records if body["NameContains"] in r["HyperParameterTuningJobName"]]
        if body.get("StatusEquals"):
            records = [r for r in records if r["HyperParameterTuningJobStatus"] == body["StatusEquals"]]
        records.sort(key=lambda r: r["CreationTime"], reverse=body.get("SortOrder", "Descending") == "Descending")
        keys = (
            "HyperParameterTuningJobName",
            "HyperParameterTuningJobArn",
            "HyperParameterTuningJobStatus",
            "CreationTime",
            "HyperParameterTuningEndTime",
            "LastModifiedTime",
            "TrainingJobStatusCounters",
            "ObjectiveStatusCounters",
        )
        summaries = [
            {
                **{k: r[k] for k in keys if k in r},
                "Strategy": r["HyperParameterTuningJobConfig"]["Strategy"],
                "ResourceLimits": r["HyperParameterTuningJobConfig"]["ResourceLimits"],
            }
            for r in records[: body.get("MaxResults", 100)]
        ]
        return {"HyperParameterTuningJobSummaries": summaries}

    def training_jobs(self, body: dict[str, Any]) -> dict[str, Any]:
        record = self.load(body.get("HyperParameterTuningJobName", ""))
        summaries = self.summaries(record)
        if body.get("StatusEquals"):
            summaries = [s for s in summaries if s["TrainingJobStatus"] == body["StatusEquals"]]
        sort_by = body.get("SortBy", "Name")
        descending = body.get("SortOrder", "Descending") == "Descending"
        if sort_by == "FinalObjectiveMetricValue":
            summaries = self._ranked(record, summaries)
            if not descending:
                summaries.reverse()
        else:
            key = {"Name": "TrainingJobName", "CreationTime": "CreationTime", "Status": "TrainingJobStatus"}.get(
                sort_by
            )
            if key is None:
                raise validation_error("SortBy must be Name, CreationTime, Status or FinalObjectiveMetricValue")
            summaries.sort(key=lambda s: s[key], reverse=descending)
        return {"TrainingJobSummaries": summaries[: body.get("MaxResults", 100)]}

    def stop(self, name: str) -> dict[str, Any]:
        with self._lock:
            record = self.load(name)
            if record["HyperParameterTuningJobStatus"] != "InProgress":
                raise validation_error(
                    f"The hyperparameter tuning job {name} is {record['HyperParameterTuningJobStatus']}; only an "
                    "InProgress job can be stopped"
                )
            record["HyperParameterTuningJobStatus"] = "Stopping"
            self.save(record)
        return {}

    # summaries --------------------------------------------------------------------------
    def summaries(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """HyperParameterTrainingJobSummary of every training job started so far."""
        store = self.cloud.jobs.runner.store
        objective = record["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
        found = []
        for run in record["Runs"]:
            job = store.load("training", run["TrainingJobName"])
            if job is None:
                continue
            summary = {
                "TrainingJobName": job["TrainingJobName"],
                "TrainingJobArn": job["TrainingJobArn"],
                "TuningJobName": record["HyperParameterTuningJobName"],
                "CreationTime": job["CreationTime"],
                "TrainingStartTime": job.get("TrainingStartTime"),
                "TrainingEndTime": job.get("TrainingEndTime"),
                "TrainingJobStatus": job["TrainingJobStatus"],
                "TunedHyperParameters": run["TunedHyperParameters"],
                "ObjectiveStatus": run.get("ObjectiveStatus", "Pending"),
            }
            if job.get("FailureReason") or run.get("ObjectiveFailure"):
                summary["FailureReason"] = job.get("FailureReason") or run["ObjectiveFailure"]
            if "ObjectiveValue" in run:
                summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
                    "Type": objective["Type"],
                    "MetricName": objective["MetricName"],
                    "Value": run["ObjectiveValue"],
                }
            found.append({k: v for k, v in summary.items() if v is not None})
        return found

    @staticmethod
    def _ranked(record: dict[str, Any], summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Best first: jobs with an objective by value (Maximize: highest), then the rest."""
        sign = (
            -1
            if record["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["Type"] == "Maximize"
            else 1
        )
        scored = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        scored.sort(key=lambda s: sign * s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
        return scored + [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" not in s]

    def step_properties(self, name: str) -> dict[str, Any]:
        """What a Tuning step exposes: the Describe response and the best 50 training jobs, best first."""
        record = self.load(name)
        ranked = self._ranked(record, self.summaries(record))
        return {**self.describe(name), "TrainingJobSummaries": ranked[:TOP_SUMMARIES]}

    # running ----------------------------------------------------------------------------
    def _training_request(self, record: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
        definition = copy.deepcopy(record["TrainingJobDefinition"])
        hyperparameters = {**(definition.pop("StaticHyperParameters", None) or {}), **run["TunedHyperParameters"]}
        request = {
            "TrainingJobName": run["TrainingJobName"],
            "AlgorithmSpecification": definition.pop("AlgorithmSpecification", {}),
            "HyperParameters": hyperparameters,
            **{
                k: v
                for k, v in definition.items()
                if k not in ("DefinitionName", "TuningObjective", "HyperParameterRanges")
            },
        }
        request.pop("HyperParameterTuningResourceConfig", None)
        return request

    def _run_one(self, record: dict[str, Any], run: dict[str, Any]) -> None:
        runner = self.cloud.jobs.runner
        job = runner.store.load("training", run["TrainingJobName"])
        if (
            job is not None
            and job["TrainingJobStatus"] == "Failed"
            and job.get("FailureReason", "").startswith("InternalServerError")
        ):
            with self._lock:  # it died with the local cloud: run it again, as a new job
                run["TrainingJobName"] = (
                    f"{record['HyperParameterTuningJobName']}-{run['TrainingJobName'].split('-')[-2]}-{secrets.token_hex(4)}"
                )
                self.save(record)
            job = None
        if job is None:
            job = runner.training_record(self._training_request(record, run), record["Region"])
            job["TuningJobArn"] = record["HyperParameterTuningJobArn"]
            if record.get("PipelineExecutionArn"):
                job["PipelineExecutionArn"] = record["PipelineExecutionArn"]
            job = runner.run_training(job)
            if self.cloud.stopping.is_set():
                return  # cut off with the local cloud: resume() runs it again
        while job["TrainingJobStatus"] == "InProgress" and not self.cloud.stopping.is_set():
            time.sleep(0.2)  # resumed by the job service after a restart
            job = runner.store.load("training", run["TrainingJobName"])
        if job["TrainingJobStatus"] == "InProgress":
            return
        definitions = job.get("AlgorithmSpecification", {}).get("MetricDefinitions") or []
        metrics = final_metrics(self._job_output(job), definitions) if job["TrainingJobStatus"] == "Completed" else {}
        if metrics:
            job["FinalMetricDataList"] = [
                {"MetricName": name, "Value": value, "Timestamp": job.get("TrainingEndTime", time.time())}
                for name, value in sorted(metrics.items())
            ]
            runner.store.save("training", job)
        objective = record["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"]
        with self._lock:
            if objective in metrics:
                run.update(ObjectiveStatus="Succeeded", ObjectiveValue=metrics[objective])
            else:
                run["ObjectiveStatus"] = "Failed"
                if job["TrainingJobStatus"] == "Completed":
                    run["ObjectiveFailure"] = (
                        f"The training job printed no line matching the MetricDefinitions regex of the objective "
                        f"metric {objective!r}"
                    )

    def _job_output(self, job: dict[str, Any]) -> list[str]:
        """What the job's program printed, from its CloudWatch log streams (where SageMaker reads metrics)."""
        logs = self.cloud.client("logs")
        group = "/aws/sagemaker/TrainingJobs"
        lines: list[str] = []
        try:
            streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=job["TrainingJobName"] + "/")
        except logs.exceptions.ResourceNotFoundException:
            return lines
        for stream in streams["logStreams"]:
            events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True)
            lines += [event["message"] for event in events["events"]]
        return lines

    def _counters(self, record: dict[str, Any]) -> None:
        counters = dict(STATUS_COUNTERS)
        objectives = {"Succeeded": 0, "Pending": 0, "Failed": 0}
        store = self.cloud.jobs.runner.store
        for run in record["Runs"]:
            job = store.load("training", run["TrainingJobName"])
            status = job["TrainingJobStatus"] if job else None
            if status == "Failed":
                counters["NonRetryableError"] += 1
            elif status in counters:
                counters[status] += 1
            objectives[run.get("ObjectiveStatus", "Pending")] += 1
        record.update(TrainingJobStatusCounters=counters, ObjectiveStatusCounters=objectives)

    def _best(self, record: dict[str, Any]) -> None:
        ranked = self._ranked(record, self.summaries(record))
        if ranked and "FinalHyperParameterTuningJobObjectiveMetric" in ranked[0]:
            record["BestTrainingJob"] = ranked[0]

    def _stopping(self, name: str) -> bool:
        return self.load(name)["HyperParameterTuningJobStatus"] == "Stopping"

    def _save_progress(self, record: dict[str, Any]) -> None:
        """Save counters and the best job so far, keeping a Stopping that StopHyperParameterTuningJob wrote."""
        with self._lock:
            self._counters(record)
            self._best(record)
            if self._stopping(record["HyperParameterTuningJobName"]):
                record["HyperParameterTuningJobStatus"] = "Stopping"
            self.save(record)

    def run(self, record: dict[str, Any]) -> dict[str, Any]:
        """Run the planned training jobs, at most two at a time; returns the final record."""
        name = record["HyperParameterTuningJobName"]
        limit = record["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"]
        width = max(1, min(int(limit), LOCAL_PARALLEL_LIMIT))
        runs = [run for run in record["Runs"] if run.get("ObjectiveStatus") in (None, "Pending")]
        failure = None
        try:
            with ThreadPoolExecutor(max_workers=width, thread_name_prefix=f"tuning-{name}") as pool:
                for future in [pool.submit(self._run_if_going, record, run) for run in runs]:
                    future.result()
        except Exception as error:  # the local cloud's own fault: the job fails saying so
            failure = f"InternalServerError: {error!r}"
        if self.cloud.stopping.is_set():
            return record  # cut off: resume() goes on with the plan
        with self._lock:
            self._save_progress(record)
            if record["HyperParameterTuningJobStatus"] == "Stopping":
                record["HyperParameterTuningJobStatus"] = "Stopped"
            elif failure is None and "BestTrainingJob" in record:
                record["HyperParameterTuningJobStatus"] = "Completed"
            else:
                record.update(
                    HyperParameterTuningJobStatus="Failed", FailureReason=failure or self._no_objective_reason(record)
                )
            record["HyperParameterTuningEndTime"] = time.time()
            self.save(record)
        return record

    @staticmethod
    def _target_reached(record: dict[str, Any]) -> bool:
        """TuningJobCompletionCriteria.TargetObjectiveMetricValue: the best job is at least that good."""
        config = record["HyperParameterTuningJobConfig"]
        target = (config.get("TuningJobCompletionCriteria") or {}).get("TargetObjectiveMetricValue")
        best = record.get("BestTrainingJob", {}).get("FinalHyperParameterTuningJobObjectiveMetric")
        if target is None or best is None:
            return False
        if config["HyperParameterTuningJobObjective"]["Type"] == "Maximize":
            return best["Value"] >= float(target)
        return best["Value"] <= float(target)

    def _run_if_going(self, record: dict[str, Any], run: dict[str, Any]) -> None:
        if self.cloud.stopping.is_set() or self._stopping(record["HyperParameterTuningJobName"]):
            return  # a stopped tuning job starts no more training jobs
        with self._lock:
            if self._target_reached(record):
                return  # done: the objective reached the target
        self._run_one(record, run)
        self._save_progress(record)

    def _no_objective_reason(self, record: dict[str, Any]) -> str:
        failures = [s.get("FailureReason", "") for s in self.summaries(record) if s.get("FailureReason")]
        objective = record["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"]
        reason = f"No training job reported the objective metric {objective!r}"
        return (reason + f"; first failure: {failures[0]}")[:1024] if failures else reason

    # lifecycle ----------------------------------------------------------------------------


def install(cloud) -> TuningService:
    service = TuningService(cloud)
    route = cloud.gateway.json
    route("SageMaker", "CreateHyperParameterTuningJob")(lambda call: service.create(call.body, call.region))
    route("SageMaker", "DescribeHyperParameterTuningJob")(
        lambda call: service.describe(call.body.get("HyperParameterTuningJobName", ""))
    )
    route("SageMaker", "ListHyperParameterTuningJobs")(lambda call: service.list(call.body))
    route("SageMaker", "ListTrainingJobsForHyperParameterTuningJob")(lambda call: service.training_jobs(call.body))
    route("SageMaker", "StopHyperParameterTuningJob")(
        lambda call: service.stop(call.body.get("HyperParameterTuningJobName", ""))
    )
    return service
