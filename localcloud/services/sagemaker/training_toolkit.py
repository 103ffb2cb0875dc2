"""What a framework image's training toolkit does before and around the user's script.

SDK v2 estimators (and v2's repack step) name the script in the ``sagemaker_program``
hyperparameter and its code in ``sagemaker_submit_directory``. The sagemaker-training-toolkit in
the image then: extracts the code to ``/opt/ml/code``; decides how to run the entry point (a
``.sh`` file or any non-Python file with the shell, a folder with ``setup.py`` as a module after
``pip install .``, else ``python script.py``); installs ``requirements.txt`` for a Python script;
passes the user's hyperparameters as sorted ``--key value`` arguments and everything as ``SM_*``
variables; and, when something fails, writes ``/opt/ml/output/failure`` (unless the script wrote
it) with the error's class, exit code and command. This module is that, for the local cloud: it
plans the commands and the host runs them in the job's sandbox.
"""

from __future__ import annotations

import json
import os
import shlex
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.core.paths import PathEscape, contained
from localcloud.services.sagemaker import s3io

CODE_DIR = "/opt/ml/code"
PYTHON = "python3"  # the job's own Python (job_installs), first on PATH
HOST = "algo-1"
DEFAULT_FRAMEWORK_MODULE = "sagemaker_sklearn_container.training:main"
SAGEMAKER_HYPERPARAMETERS = (  # the toolkit's own keys: not passed to the script
    "sagemaker_program",
    "sagemaker_submit_directory",
    "sagemaker_container_log_level",
    "sagemaker_job_name",
    "sagemaker_region",
    "sagemaker_enable_cloudwatch_metrics",
    "sagemaker_s3_output",
)
LOG_LEVEL_INFO = 20


class ToolkitError(Exception):
    """The job cannot start; the message is its FailureReason."""


@dataclass
class Plan:
    """The commands the toolkit would run, in order, with the script's environment."""

    kind: str  # "python-program", "python-package" or "command"
    install: list[str] | None  # pip's command line, or None when there is nothing to install
    install_error: str  # the toolkit's error class should the install fail
    program: list[str]
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = CODE_DIR


def decode_hyperparameters(raw: dict[str, str]) -> dict[str, Any]:
    """Each value JSON-decoded where it is JSON (SDK v2 encodes every value), else kept as text."""
    decoded = {}
    for key, value in raw.items():
        try:
            decoded[key] = json.loads(value)
        except (TypeError, ValueError):
            decoded[key] = value
    return decoded


def entry_point_kind(code_dir: Path, program: str) -> str:
    """The toolkit's rule: ``.sh`` -> shell; ``setup.py`` beside it -> package; ``.py`` -> Python; else shell."""
    if program.endswith(".sh"):
        return "command"
    if (code_dir / "setup.py").is_file():
        return "python-package"
    if program.endswith(".py"):
        return "python-program"
    return "command"


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


def cmd_args(hyperparameters: dict[str, Any]) -> list[str]:
    """``--key value`` per hyperparameter in key order (``-k`` for one letter); a mapping is ``a=1,b=2``."""
    args: list[str] = []
    for key in sorted(hyperparameters):
        value = hyperparameters[key]
        args.append(f"--{key}" if len(key) > 1 else f"-{key}")
        if isinstance(value, dict):
            args.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            args.append(_text(value))
    return args


def _env_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def environment(
    record: dict[str, Any], hyperparameters: dict[str, Any], channels: dict[str, dict], resource_config: dict
) -> dict[str, str]:
    """The ``SM_*`` variables the toolkit sets for the script (its ``Environment.to_env_vars``)."""
    sagemaker = {k: v for k, v in hyperparameters.items() if k.startswith("sagemaker_")}
    user = {k: v for k, v in hyperparameters.items() if not k.startswith("sagemaker_")}
    framework_params = {k: v for k, v in sagemaker.items() if k not in SAGEMAKER_HYPERPARAMETERS}
    program = _text(sagemaker.get("sagemaker_program"))
    hosts = resource_config["hosts"]
    channel_dirs = {name: f"/opt/ml/input/data/{name}" for name in channels}
    image_env = record.get("Environment") or {}
    group = {"instance_group_name": "homogeneousCluster", "instance_type": "local", "hosts": hosts}
    values: dict[str, Any] = {
        "hosts": hosts,
        "network_interface_name": resource_config.get("network_interface_name", "eth0"),
        "hps": user,
        "user_entry_point": program,
        "framework_params": framework_params,
        "resource_config": resource_config,
        "input_data_config": channels,
        "output_data_dir": "/opt/ml/output/data",
        "channels": sorted(channels),
        "current_host": resource_config["current_host"],
        "current_instance_type": resource_config.get("current_instance_type", "local"),
        "current_instance_group": "homogeneousCluster",
        "current_instance_group_hosts": hosts,
        "instance_groups": ["homogeneousCluster"],
        "instance_groups_dict": {"homogeneousCluster": group},
        "distribution_instance_groups": [],
        "is_hetero": False,
        "module_name": program[:-3] if program.endswith(".py") else program,
        "log_level": sagemaker.get("sagemaker_container_log_level", LOG_LEVEL_INFO),
        "framework_module": image_env.get("SAGEMAKER_TRAINING_MODULE", DEFAULT_FRAMEWORK_MODULE),
        "input_dir": "/opt/ml/input",
        "input_config_dir": "/opt/ml/input/config",
        "output_dir": "/opt/ml/output",
        "num_cpus": os.cpu_count() or 1,
        "num_gpus": 0,
        "num_neurons": 0,
        "model_dir": "/opt/ml/model",
        "module_dir": _text(sagemaker.get("sagemaker_submit_directory", CODE_DIR)),
        "user_args": cmd_args(user),
        "output_intermediate_dir": "/opt/ml/output/intermediate",
    }
    training_env = {k: v for k, v in values.items() if k not in ("hps", "user_args", "framework_params")}
    training_env.update(
        hyperparameters=user,
        additional_framework_parameters=framework_params,
        channel_input_dirs=channel_dirs,
        job_name=record["TrainingJobName"],
        is_master=True,
        master_hostname=hosts[0],
        distribution_hosts=[],
    )
    values["training_env"] = training_env
    for name, path in channel_dirs.items():
        values[f"channel_{name}"] = path
    for key, value in user.items():
        values[f"hp_{key}"] = value
    env = {f"SM_{key.upper()}": _env_value(value) for key, value in values.items()}
    env.update(
        SAGEMAKER_JOB_NAME=_text(sagemaker.get("sagemaker_job_name", record["TrainingJobName"])),
        CURRENT_HOST=resource_config["current_host"],
        SAGEMAKER_REGION=_text(sagemaker.get("sagemaker_region", "")),
        PYTHONPATH=CODE_DIR,
    )
    return env


def fetch_code(s3: Any, submit_directory: str, code: Path, scratch: Path) -> None:
    """Put the submitted code in ``/opt/ml/code``: an S3 ``sourcedir.tar.gz`` is extracted, as the toolkit does."""
    if not submit_directory.startswith("s3://"):
        return  # a path inside the image: the code is already where it says
    try:
        s3io.download(s3, submit_directory, scratch)
    except (FileNotFoundError, s3io.UnsafeKey) as missing:
        raise ToolkitError(f"ClientError: sagemaker_submit_directory {submit_directory}: {missing}") from None
    archives = sorted(scratch.rglob("*.tar.gz"))
    if not archives:
        raise ToolkitError(
            f"ClientError: sagemaker_submit_directory {submit_directory} holds no .tar.gz archive of the code"
        )
    for archive in archives:
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(code, filter="data")
        except (tarfile.TarError, OSError) as error:
            raise ToolkitError(f"ClientError: {archive.name} is not a readable .tar.gz archive: {error}") from None


def plan(record: dict[str, Any], ml: Path, channels: dict[str, dict], resource_config: dict, s3: Any) -> Plan:
    """Fetch the code and plan what the toolkit runs for this training job."""
    hyperparameters = decode_hyperparameters(record.get("HyperParameters") or {})
    program = _text(hyperparameters.get("sagemaker_program"))
    if not program:
        # SageMaker would run the image's own program: a built-in algorithm (XGBoost, Linear Learner, ...)
        # or a bring-your-own container. The local cloud runs scripts only, so it says so and what to give.
        image = (record.get("AlgorithmSpecification") or {}).get("TrainingImage", "")
        raise ToolkitError(
            f"ClientError: the training image {image or '(none)'} would run its own program (a built-in algorithm "
            "or a container's entrypoint), which the local cloud does not run: the job has no ContainerEntrypoint "
            "and no sagemaker_program hyperparameter. Train with a script (an estimator's entry_point, or "
            "ModelTrainer's SourceCode) instead"
        )
    code = ml / "code"
    fetch_code(s3, _text(hyperparameters.get("sagemaker_submit_directory", "")), code, ml.parent / "sourcedir")
    try:
        script = contained(code, program, what="sagemaker_program")
    except PathEscape as error:
        raise ToolkitError(f"ClientError: {error}") from None
    if not script.is_file() or script.is_symlink():
        present = sorted(p.name for p in code.iterdir()) if code.is_dir() else []
        raise ToolkitError(
            f"ClientError: the entry point {program} (sagemaker_program) is not in the submitted code "
            f"(found: {', '.join(present) or 'nothing'}): fix sagemaker_program or sagemaker_submit_directory"
        )
    user = {k: v for k, v in hyperparameters.items() if not k.startswith("sagemaker_")}
    args = cmd_args(user)
    kind = entry_point_kind(code, program)
    env = environment(record, hyperparameters, channels, resource_config)
    has_requirements = (code / "requirements.txt").is_file()
    install, install_error = None, ""
    if kind == "python-package":
        install = [PYTHON, "-m", "pip", "install", "."] + (["-r", "requirements.txt"] if has_requirements else [])
        install_error = "InstallModuleError"
        command = [PYTHON, "-m", program[:-3] if program.endswith(".py") else program, *args]
    elif kind == "python-program":
        if has_requirements:
            install = [PYTHON, "-m", "pip", "install", "-r", "requirements.txt"]
            install_error = "InstallRequirementsError"
        command = [PYTHON, program, *args]
    else:
        script.chmod(0o755)  # the toolkit makes a command executable before it runs it
        command = ["/bin/sh", "-c", f"./{program} {shlex.join(args)}".rstrip()]
    return Plan(kind, install, install_error, command, env)


def failure_text(error_class: str, code: int, error_message: str, command: list[str]) -> str:
    """The toolkit's failure file for a command that failed (its ``_CalledProcessError`` text)."""
    return f'{error_class}:\nExitCode {code}\nErrorMessage "{error_message}"\nCommand "{shlex.join(command)}"'
