"""Processing and training jobs that really run, inside the sandbox, with SageMaker's contract.

A job gets a folder under the state folder whose ``ml/`` is mounted at ``/opt/ml``: inputs are
downloaded there, the program runs, outputs are uploaded, and the job record (the Describe*Job
response) is kept as JSON so it survives restarts.

Every name and path in a request is checked (``check_request``) before anything is made: the job
name becomes a folder, channel names and ``LocalPath`` become paths under ``/opt/ml``.
"""

from __future__ import annotations

import json
import shlex
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcloud import ACCOUNT_ID
from localcloud.core import names, sandbox
from localcloud.core.paths import EscapingLink, PathEscape, contained, container_path
from localcloud.services.sagemaker import s3io

TERMINAL = {"Completed", "Failed", "Stopped"}


class JobFailed(Exception):
    """The job's program failed; the message is the FailureReason SageMaker would show."""


class JobStore:
    """Describe*Job records, one JSON file each; names are case-insensitive, as in SageMaker's ARNs."""

    FOLDERS = {"processing": "sagemaker/processing-jobs", "training": "sagemaker/training-jobs"}
    RULES = {"processing": names.PROCESSING_JOB, "training": names.TRAINING_JOB}

    def __init__(self, state):
        self.state = state
        self._lock = threading.Lock()

    def save(self, kind: str, record: dict[str, Any]) -> None:
        name = record["ProcessingJobName"] if kind == "processing" else record["TrainingJobName"]
        record["LastModifiedTime"] = time.time()
        with self._lock:
            self.state.write_json(f"{self.FOLDERS[kind]}/{self.RULES[kind].check(name).lower()}.json", record)

    def load(self, kind: str, name: str) -> dict[str, Any] | None:
        if not self.RULES[kind].is_valid(name):
            return None  # no such job can exist; the name never reaches the disk
        path = self.state.root / self.FOLDERS[kind] / f"{name.lower()}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def all(self, kind: str) -> list[dict[str, Any]]:
        return self.state.list_json(self.FOLDERS[kind])


class JobRunner:
    """Runs jobs for the API and for pipeline steps alike."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.store = JobStore(cloud.state)

    # shared -----------------------------------------------------------------------------
    def _job_folder(self, kind: str, name: str) -> Path:
        """The job's own folder under the state folder; only a valid job name gets one."""
        jobs = self.cloud.state.root / "jobs"
        folder = contained(jobs, JobStore.RULES[kind].check(name), what="job name")
        if folder.exists():
            shutil.rmtree(folder)  # a rerun after a restart starts clean
        (folder / "ml").mkdir(parents=True)
        return folder

    def _run_program(
        self, kind: str, name: str, ml: Path, argv: list[str], env: dict[str, str], workdir: str, isolated: bool = False
    ) -> None:
        group = "/aws/sagemaker/ProcessingJobs" if kind == "processing" else "/aws/sagemaker/TrainingJobs"
        stream = f"{name}/algo-1-{int(time.time())}"
        lines: list[str] = []
        log_file = ml.parent / "job.log"
        with open(log_file, "w") as log:

            def on_line(line: str) -> None:
                lines.append(line)
                log.write(line + "\n")
                log.flush()

            on_line(f"$ {shlex.join(argv)}")
            code = sandbox.run(
                ml, argv, {**self.cloud.session_environment(), **env}, on_line, workdir=workdir, isolated=isolated
            )
        self._ship_logs(group, stream, lines)
        if code != 0:
            raise JobFailed(failure_reason(ml, lines, code))

    def _ship_logs(self, group: str, stream: str, lines: list[str]) -> None:
        logs = self.cloud.client("logs")
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line or " "} for line in lines[-9000:]]
        if events:
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

    # processing -------------------------------------------------------------------------
    def processing_record(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        name = request["ProcessingJobName"]
        return {
            **{k: v for k, v in request.items() if k != "Tags"},
            "ProcessingJobArn": f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:processing-job/{name.lower()}",
            "ProcessingJobStatus": "InProgress",
            "CreationTime": time.time(),
            "ProcessingStartTime": time.time(),
        }

    def run_processing(self, record: dict[str, Any], on_change: Callable[[dict], None] | None = None) -> dict:
        name = record["ProcessingJobName"]
        self.store.save("processing", record)
        try:
            check_request("processing", record, JobFailed)
            folder = self._job_folder("processing", name)
            ml = folder / "ml"
            s3 = self.cloud.client("s3")
            for item in record.get("ProcessingInputs", []):
                if "S3Input" not in item:
                    raise JobFailed(
                        f"ClientError: input {item.get('InputName')} has no S3Input (only S3 inputs run locally)"
                    )
                local = _under_ml(ml, item["S3Input"]["LocalPath"])
                try:
                    s3io.download(s3, item["S3Input"]["S3Uri"], local)
                except (FileNotFoundError, s3io.UnsafeKey) as missing:
                    raise JobFailed(f"ClientError: input {item.get('InputName')}: {missing}") from missing
            outputs = record.get("ProcessingOutputConfig", {}).get("Outputs", [])
            for item in outputs:
                _under_ml(ml, item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
            (ml / "config").mkdir(exist_ok=True)
            (ml / "config" / "processingjobconfig.json").write_text(json.dumps(record, default=str))
            (ml / "config" / "resourceconfig.json").write_text(json.dumps(_resource_config()))
            (ml / "output").mkdir(exist_ok=True)
            app = record["AppSpecification"]
            argv = list(app.get("ContainerEntrypoint") or []) + list(app.get("ContainerArguments") or [])
            if not argv:
                raise JobFailed("ClientError: AppSpecification has no ContainerEntrypoint; local jobs need one")
            isolated = bool((record.get("NetworkConfig") or {}).get("EnableNetworkIsolation"))
            self._run_program("processing", name, ml, argv, record.get("Environment") or {}, "/opt/ml", isolated)
            for item in outputs:
                local = _under_ml(ml, item["S3Output"]["LocalPath"])
                try:
                    s3io.upload_folder(s3, local, item["S3Output"]["S3Uri"], owned=ml)
                except EscapingLink as link:
                    raise JobFailed(f"ClientError: output {item.get('OutputName')}: {link}") from None
            record.update(ProcessingJobStatus="Completed", ExitMessage="")
        except JobFailed as failure:
            record.update(ProcessingJobStatus="Failed", FailureReason=str(failure))
        except Exception as error:  # an input or upload problem is the job's failure, not the server's
            record.update(ProcessingJobStatus="Failed", FailureReason=f"InternalServerError: {error}")
        record["ProcessingEndTime"] = time.time()
        self.store.save("processing", record)
        if on_change:
            on_change(record)
        return record

    # training ---------------------------------------------------------------------------
    def training_record(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        name = request["TrainingJobName"]
        return {
            **{k: v for k, v in request.items() if k != "Tags"},
            "TrainingJobArn": f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:training-job/{name.lower()}",
            "TrainingJobStatus": "InProgress",
            "SecondaryStatus": "Starting",
            "CreationTime": time.time(),
            "TrainingStartTime": time.time(),
        }

    def run_training(self, record: dict[str, Any], on_change: Callable[[dict], None] | None = None) -> dict:
        name = record["TrainingJobName"]
        self.store.save("training", record)
        try:
            check_request("training", record, JobFailed)
            folder = self._job_folder("training", name)
            ml = folder / "ml"
            s3 = self.cloud.client("s3")
            channels = {}
            for channel in record.get("InputDataConfig", []):
                source = channel["DataSource"].get("S3DataSource")
                if not source:
                    raise JobFailed(f"ClientError: channel {channel['ChannelName']} has no S3DataSource")
                local = contained(ml / "input" / "data", channel["ChannelName"], what="ChannelName")
                try:
                    s3io.download(s3, source["S3Uri"], local)
                except (FileNotFoundError, s3io.UnsafeKey) as missing:
                    raise JobFailed(f"ClientError: channel {channel['ChannelName']}: {missing}") from missing
                channels[channel["ChannelName"]] = {
                    "ContentType": channel.get("ContentType", ""),
                    "TrainingInputMode": channel.get("InputMode", "File"),
                    "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
                    "RecordWrapperType": channel.get("RecordWrapperType", "None"),
                }
            for sub in ("model", "output/data", "code", "input/config", "checkpoints"):
                (ml / sub).mkdir(parents=True, exist_ok=True)
            hyperparameters = record.get("HyperParameters") or {}
            config = ml / "input" / "config"
            (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
            (config / "inputdataconfig.json").write_text(json.dumps(channels))
            (config / "resourceconfig.json").write_text(json.dumps(_resource_config()))
            (config / "trainingjobconfig.json").write_text(json.dumps(record, default=str))
            argv, env, workdir = self._training_program(record, ml, channels, s3)
            record["SecondaryStatus"] = "Training"
            self.store.save("training", record)
            self._run_program("training", name, ml, argv, env, workdir, bool(record.get("EnableNetworkIsolation")))
            record["SecondaryStatus"] = "Uploading"
            output_path = record["OutputDataConfig"]["S3OutputPath"].rstrip("/")
            bucket, prefix = s3io.split_uri(f"{output_path}/{name}/output/model.tar.gz")
            try:
                archive = s3io.tar_folder(ml / "model", folder / "model.tar.gz", owned=ml)
                data_archive = None
                if any((ml / "output" / "data").iterdir()):
                    data_archive = s3io.tar_folder(ml / "output" / "data", folder / "output.tar.gz", owned=ml)
            except EscapingLink as link:
                raise JobFailed(f"ClientError: {link}") from None
            s3.upload_file(str(archive), bucket, prefix)
            if data_archive is not None:
                s3.upload_file(str(data_archive), bucket, prefix.replace("model.tar.gz", "output.tar.gz"))
            record.update(
                TrainingJobStatus="Completed",
                SecondaryStatus="Completed",
                ModelArtifacts={"S3ModelArtifacts": f"s3://{bucket}/{prefix}"},
            )
        except JobFailed as failure:
            record.update(TrainingJobStatus="Failed", SecondaryStatus="Failed", FailureReason=str(failure))
        except Exception as error:
            record.update(
                TrainingJobStatus="Failed", SecondaryStatus="Failed", FailureReason=f"InternalServerError: {error}"
            )
        record["TrainingEndTime"] = time.time()
        self.store.save("training", record)
        if on_change:
            on_change(record)
        return record

    def _training_program(self, record, ml: Path, channels, s3) -> tuple[list[str], dict[str, str], str]:
        """What the framework image would run: its entrypoint, or the training toolkit's user script."""
        algorithm = record.get("AlgorithmSpecification", {})
        env = dict(record.get("Environment") or {})
        env.update(TRAINING_JOB_NAME=record["TrainingJobName"], TRAINING_JOB_ARN=record["TrainingJobArn"])
        entrypoint = list(algorithm.get("ContainerEntrypoint") or [])
        if entrypoint:
            return entrypoint + list(algorithm.get("ContainerArguments") or []), env, "/opt/ml"
        # Classic framework shape (SDK v2 estimators): the toolkit reads sagemaker_program and
        # sagemaker_submit_directory from the hyperparameters and runs the script with the rest as args.
        hyperparameters = {k: _unquote(v) for k, v in (record.get("HyperParameters") or {}).items()}
        program = hyperparameters.get("sagemaker_program")
        if not program:
            raise JobFailed(
                "ClientError: no ContainerEntrypoint and no sagemaker_program hyperparameter: nothing to run"
            )
        submit = hyperparameters.get("sagemaker_submit_directory", "")
        code = ml / "code"
        if submit.startswith("s3://"):
            download_dir = ml.parent / "sourcedir"
            s3io.download(s3, submit, download_dir)
            for archive in download_dir.glob("*.tar.gz"):
                with __import__("tarfile").open(archive) as tar:
                    tar.extractall(code, filter="data")
        user = {k: v for k, v in hyperparameters.items() if not k.startswith("sagemaker_")}
        args = []
        for key, value in user.items():
            args += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
        env.update(
            {
                "SM_MODEL_DIR": "/opt/ml/model",
                "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data",
                "SM_OUTPUT_DIR": "/opt/ml/output",
                "SM_INPUT_DIR": "/opt/ml/input",
                "SM_INPUT_CONFIG_DIR": "/opt/ml/input/config",
                "SM_CHANNELS": json.dumps(sorted(channels)),
                "SM_HPS": json.dumps(user),
                "SM_HOSTS": json.dumps(["algo-1"]),
                "SM_CURRENT_HOST": "algo-1",
                "SM_NUM_CPUS": "2",
                "SM_NUM_GPUS": "0",
                "SM_MODULE_DIR": submit,
                "SM_USER_ENTRY_POINT": program,
                "SM_USER_ARGS": json.dumps(args),
                "PYTHONPATH": "/opt/ml/code",
            }
        )
        for channel in channels:
            env[f"SM_CHANNEL_{channel.upper()}"] = f"/opt/ml/input/data/{channel}"
        for key, value in user.items():
            env[f"SM_HP_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
        return ["python3", program, *args], env, "/opt/ml/code"


def _unquote(value: str) -> Any:
    """v2 estimators JSON-encode hyperparameter values ('"train.py"')."""
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def _resource_config() -> dict[str, Any]:
    return {
        "current_host": "algo-1",
        "hosts": ["algo-1"],
        "network_interface_name": "eth0",
        "current_instance_type": "local",
        "instance_groups": [],
    }


def _under_ml(ml: Path, path: str) -> Path:
    """Where a container path under /opt/ml/ lives in the job's folder (checked by check_request)."""
    try:
        return contained(ml, container_path(path, "/opt/ml", "LocalPath"), what="LocalPath")
    except PathEscape as error:
        raise JobFailed(f"ClientError: {error}") from None


def check_request(kind: str, request: dict[str, Any], failure: type[Exception] | None = None) -> None:
    """Refuse a job request whose names or paths AWS would refuse, or that would leave the job's folder.

    Raises AWS's ValidationException, or ``failure`` with the same text for a job that is already
    recorded (a pipeline step's job fails with it instead of the API call)."""
    problems: list[str] = []
    if kind == "processing":
        problems += names.PROCESSING_JOB.problems(request.get("ProcessingJobName"))
        for index, item in enumerate(request.get("ProcessingInputs") or [], 1):
            member = f"processingInputs.{index}.member.s3Input.localPath"
            problems += _local_path_problems((item.get("S3Input") or {}).get("LocalPath"), member, "/opt/ml/processing")
        outputs = (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []
        for index, item in enumerate(outputs, 1):
            member = f"processingOutputConfig.outputs.{index}.member.s3Output.localPath"
            problems += _local_path_problems((item.get("S3Output") or {}).get("LocalPath"), member, "/opt/ml")
    else:
        problems += names.TRAINING_JOB.problems(request.get("TrainingJobName"))
        for index, channel in enumerate(request.get("InputDataConfig") or [], 1):
            rule = names.CHANNEL.at(f"inputDataConfig.{index}.member.channelName")
            problems += rule.problems(channel.get("ChannelName"))
            if channel.get("ChannelName") in (".", ".."):  # legal characters, but not a folder of its own
                problems.append(
                    f"Value '{channel['ChannelName']}' at 'inputDataConfig.{index}.member.channelName' "
                    "failed to satisfy constraint: Member must name a folder under /opt/ml/input/data"
                )
    if problems:
        error = names.invalid(problems)
        if failure is not None:
            raise failure(f"ClientError: {error.message}")
        raise error


def _local_path_problems(path: Any, member: str, mount: str) -> list[str]:
    if path is None:
        return []  # a missing S3Input or S3Output is reported when the job runs
    try:
        container_path(path, mount, "LocalPath")
    except PathEscape:
        return [
            f"Value '{path}' at '{member}' failed to satisfy constraint: "
            f"Member must be an absolute path under {mount}/ that stays there once '..' is applied"
        ]
    return []


def failure_reason(ml: Path, lines: list[str], code: int) -> str:
    """SageMaker's failure file if the program wrote one, else the last thing it said."""
    for name in ("failure", "message"):
        written = ml / "output" / name
        if written.exists() and written.read_text().strip():
            text = written.read_text().strip()
            break
    else:
        text = ""
    said = [line.strip() for line in lines if line.strip() and not line.startswith("$ ")]
    last = said[-1] if said else "no output"
    if text and last not in text:
        text = f"{text} {last}" if "CloudWatch" in text else text
    return f"AlgorithmError: {text or last} (exit code {code})"
