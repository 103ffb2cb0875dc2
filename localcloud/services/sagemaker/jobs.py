"""Processing and training jobs that really run, inside the sandbox, with SageMaker's contract.

A job gets a folder under the state folder whose ``ml/`` is mounted at ``/opt/ml``: inputs are
downloaded there, the program runs on the Python and libraries of the image the job names
(``images/``; built on first use, with progress in the job's log), outputs are uploaded, and the job
record (the Describe*Job response) is kept as JSON so it survives restarts.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localcloud import ACCOUNT_ID
from localcloud.core import names, sandbox
from localcloud.core.paths import EscapingLink, PathEscape, contained, container_path
from localcloud.services.sagemaker import images, s3io, training_toolkit
from localcloud.services.sagemaker.job_installs import BasePython, JobPython

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
        self,
        kind: str,
        name: str,
        ml: Path,
        steps: list[Step],
        env: dict[str, str],
        workdir: str,
        isolated: bool = False,
        image: str = "",
    ) -> None:
        """Run ``steps`` one after the other in the job's sandbox, on ``image``'s Python with the job's
        own overlay; the first that fails fails the job with the reason its ``on_failure`` gives. One
        log stream, which shows the image's environment being built on its first use."""
        group = "/aws/sagemaker/ProcessingJobs" if kind == "processing" else "/aws/sagemaker/TrainingJobs"
        stream = f"{name}/algo-1-{int(time.time())}"
        lines: list[str] = []
        log_file = ml.parent / "job.log"
        try:
            with open(log_file, "w") as log, self.cloud.session() as session:  # ended when the job ends

                def on_line(line: str) -> None:
                    lines.append(line)
                    log.write(line + "\n")
                    log.flush()

                environment = image_environment(image, on_line, f"{kind} job's image")
                runtime = sandbox.Runtime(
                    str(environment.bin_dir), str(environment.interpreter), tuple(environment.mounts())
                )
                python = JobPython(ml.parent / "python", BasePython.of_image(environment))
                full_env = {
                    **session,
                    **python.environment(runtime.bin_dir, f"{sandbox.TOOLS_DIR}:{sandbox.SYSTEM_PATH}"),
                    **env,
                }
                for step in steps:
                    on_line(f"$ {shlex.join(step.argv)}")
                    start = len(lines)
                    code = sandbox.run(
                        ml,
                        step.argv,
                        full_env,
                        on_line,
                        workdir=workdir,
                        isolated=isolated,
                        read_only=python.read_only(),
                        writable=python.writable(),
                        runtime=runtime,
                    )
                    if code != 0:
                        raise JobFailed(step.on_failure(code, lines[start:]))
        finally:
            self._ship_logs(group, stream, lines)

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
            steps = [Step(argv, lambda code, lines: failure_reason(ml, lines, code))]
            try:
                environment = record.get("Environment") or {}
                self._run_program(
                    "processing", name, ml, steps, environment, "/opt/ml", isolated, app.get("ImageUri", "")
                )
            finally:
                _record_exit_message(record, ml)
            for item in outputs:
                local = _under_ml(ml, item["S3Output"]["LocalPath"])
                try:
                    s3io.upload_folder(s3, local, item["S3Output"]["S3Uri"], owned=ml)
                except EscapingLink as link:
                    raise JobFailed(f"ClientError: output {item.get('OutputName')}: {link}") from None
            record["ProcessingJobStatus"] = "Completed"
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
            algorithm = record.get("AlgorithmSpecification") or {}
            if algorithm.get("ContainerEntrypoint") or "sagemaker_program" in (record.get("HyperParameters") or {}):
                supported_image(
                    algorithm.get("TrainingImage", ""), "training job's image"
                )  # before the code is fetched
            steps, env, workdir = self._training_program(record, ml, channels, s3)
            record["SecondaryStatus"] = "Training"
            self.store.save("training", record)
            image = (record.get("AlgorithmSpecification") or {}).get("TrainingImage", "")
            isolated = bool(record.get("EnableNetworkIsolation"))
            self._run_program("training", name, ml, steps, env, workdir, isolated, image)
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

    def _training_program(self, record, ml: Path, channels, s3) -> tuple[list[Step], dict[str, str], str]:
        """What the framework image would run: its entrypoint, or the training toolkit's user script."""
        algorithm = record.get("AlgorithmSpecification", {})
        env = dict(record.get("Environment") or {})
        env.update(TRAINING_JOB_NAME=record["TrainingJobName"], TRAINING_JOB_ARN=record["TrainingJobArn"])
        entrypoint = list(algorithm.get("ContainerEntrypoint") or [])
        if entrypoint:
            argv = entrypoint + list(algorithm.get("ContainerArguments") or [])
            return [Step(argv, lambda code, lines: failure_reason(ml, lines, code))], env, "/opt/ml"
        # Classic framework shape (SDK v2 estimators): the image's training toolkit runs the script.
        try:
            planned = training_toolkit.plan(record, ml, channels, _resource_config(), s3)
        except training_toolkit.ToolkitError as error:
            raise JobFailed(str(error)) from None
        env.update(planned.env)
        steps = []
        if planned.install is not None:
            if record.get("EnableNetworkIsolation"):
                raise JobFailed(
                    "ClientError: the submitted code has a requirements.txt to install but the job has "
                    "EnableNetworkIsolation: no package index is reachable; vendor the packages or drop the isolation"
                )
            install = planned.install
            steps.append(Step(install, _toolkit_failure(ml, planned.install_error, install, pip_errors)))
        steps.append(Step(planned.program, _toolkit_failure(ml, "ExecuteUserScriptError", planned.program, last_error)))
        return steps, env, planned.workdir


def supported_image(image: str, what: str) -> images.table.FrameworkImage:
    """The table's row for the job's image, or the job's ClientError saying what the local cloud runs."""
    try:
        return images.framework_image(image, what)
    except images.ImageNotSupported as error:
        raise JobFailed(f"ClientError: {error}") from None


def image_environment(image: str, on_line: Callable[[str], None], what: str) -> images.ImageEnvironment:
    """The image's environment, or the job's failure: an image the local cloud cannot run is the request's
    fault (ClientError); one it could not build here is the platform's (InternalServerError)."""
    try:
        return images.environment_for(image, on_line, what)
    except images.ImageNotSupported as error:
        raise JobFailed(f"ClientError: {error}") from None
    except (images.InterpreterMissing, images.ImageUnavailable) as error:
        on_line(f"ERROR: {error}")
        raise JobFailed(f"InternalServerError: {error}") from None


@dataclass
class Step:
    """One command of a job, and how its failure reads (exit code and its output lines -> FailureReason)."""

    argv: list[str]
    on_failure: Callable[[int, list[str]], str]


def _toolkit_failure(ml: Path, error_class: str, argv: list[str], summary: Callable[[list[str]], str]):
    """As the toolkit fails: its failure file (unless the script wrote one) names the error, code and command."""

    def on_failure(code: int, lines: list[str]) -> str:
        written = _failure_file(ml)
        text = written or training_toolkit.failure_text(error_class, code, summary(lines), argv)
        return _algorithm_error(text, code)

    return on_failure


def pip_errors(lines: list[str]) -> str:
    """pip's own ERROR lines (what it could not install and why), else its last line."""
    errors = [line.strip() for line in lines if line.lstrip().startswith("ERROR:")]
    return " ".join(errors) if errors else last_error(lines)


def last_error(lines: list[str]) -> str:
    """The line that names the error: the last line of the last traceback, else the last line said."""
    said = [line.strip() for line in lines if line.strip()]
    if not said:
        return ""
    starts = [i for i, line in enumerate(said) if line.startswith("Traceback (most recent call last)")]
    if starts:
        after = [line for line in said[starts[-1] + 1 :] if not line.startswith(("File ", "^", "~"))]
        return after[-1] if after else said[-1]
    return said[-1]


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


REASON_LIMIT = 1024  # FailureReason and ExitMessage: SageMaker keeps the first 1 KB


def _failure_file(ml: Path) -> str:
    """What the program wrote to ``/opt/ml/output/failure`` (SageMaker's FailureReason source), if anything."""
    written = ml / "output" / "failure"
    if written.is_file() and not written.is_symlink():
        with open(written, "rb") as file:
            return file.read(4 * REASON_LIMIT).decode("utf-8", errors="replace").strip()
    return ""


def _algorithm_error(text: str, code: int) -> str:
    suffix = f", exit code: {code}"
    return f"AlgorithmError: {text}"[: REASON_LIMIT - len(suffix)] + suffix


def failure_reason(ml: Path, lines: list[str], code: int) -> str:
    """SageMaker's failure file if the program wrote one, else the last thing it said (locally more
    than SageMaker's 'See job logs'), with the exit code; at most 1 KB, as SageMaker keeps."""
    said = [line.strip() for line in lines if line.strip() and not line.startswith("$ ")]
    return _algorithm_error(_failure_file(ml) or (said[-1] if said else "no output"), code)


def _record_exit_message(record: dict[str, Any], ml: Path) -> None:
    """``/opt/ml/output/message``'s first 1 KB is the processing job's ExitMessage, whatever its status;
    text that is not UTF-8 fails the job with a ClientError, as SageMaker does."""
    written = ml / "output" / "message"
    if not written.is_file() or written.is_symlink():
        return
    with open(written, "rb") as file:
        data = file.read(REASON_LIMIT)
    try:
        record["ExitMessage"] = data.decode("utf-8")
    except UnicodeDecodeError as error:
        if len(data) == REASON_LIMIT and error.end == len(data):  # the 1 KB cut a character in two
            record["ExitMessage"] = data[: error.start].decode("utf-8")
            return
        raise JobFailed(
            f"ClientError: /opt/ml/output/message is not UTF-8 text (byte {error.start}): "
            "write the ExitMessage as UTF-8"
        ) from None
