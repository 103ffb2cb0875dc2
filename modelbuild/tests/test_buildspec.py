"""The CodeBuild buildspec: Python 3.12 and a run_pipeline call fed by the project's env vars."""

from __future__ import annotations

import re
import shlex

import yaml
from conftest import REPO

from pipelines import run_pipeline

CONTRACT_ENV = {
    "SAGEMAKER_PROJECT_NAME": "demo",
    "SAGEMAKER_PROJECT_ID": "p-abc123",
    "SAGEMAKER_PIPELINE_NAME": "sagemaker-demo",
    "SAGEMAKER_PIPELINE_ROLE_ARN": "arn:aws:iam::111122223333:role/pipeline",
    "ARTIFACT_BUCKET": "sagemaker-project-p-abc123",
    "AWS_REGION": "eu-west-1",
    "MODEL_PACKAGE_GROUP_NAME": "demo-p-abc123",
}


def buildspec() -> dict:
    return yaml.safe_load((REPO / "codebuild-buildspec.yml").read_text())


def test_uses_python_3_12_and_installs_requirements():
    spec = buildspec()
    assert spec["phases"]["install"]["runtime-versions"]["python"] == 3.12
    assert any("requirements.txt" in c for c in spec["phases"]["install"]["commands"])


def requirement_names(path) -> set[str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {re.split(r"[=<>\[; ]", line)[0].lower() for line in lines if line and not line.startswith("-r")}


def test_the_build_installs_only_what_the_build_runs():
    """The step scripts run in the scikit-learn image with its libraries, not in the build."""
    assert requirement_names(REPO / "requirements.txt") == {"sagemaker", "boto3"}


def test_the_script_libraries_are_pinned_at_the_version_of_the_image_the_pipeline_names():
    from pipelines.images import SKLEARN_FRAMEWORK_VERSION

    pins = dict(line.split("==") for line in (REPO / "requirements-image.txt").read_text().splitlines() if "==" in line)
    major_minor = SKLEARN_FRAMEWORK_VERSION.split("-")[0]
    assert pins["scikit-learn"].startswith(major_minor + "."), (pins["scikit-learn"], SKLEARN_FRAMEWORK_VERSION)
    assert {"numpy", "scipy", "pandas"} <= set(pins)


def test_run_pipeline_command_receives_every_contract_variable():
    commands = [c for c in buildspec()["phases"]["build"]["commands"] if "pipelines.run_pipeline" in c]
    assert len(commands) == 1
    expanded = commands[0]
    for name, value in CONTRACT_ENV.items():
        expanded = expanded.replace("${" + name + "}", value)
    argv = shlex.split(expanded)
    assert argv[:3] == ["python", "-m", "pipelines.run_pipeline"]
    args = run_pipeline.resolve_args(run_pipeline.build_arg_parser(), argv[3:])
    assert (
        args.region,
        args.role_arn,
        args.default_bucket,
        args.model_package_group_name,
        args.pipeline_name,
        args.project_name,
        args.project_id,
        args.base_job_prefix,
    ) == (
        "eu-west-1",
        CONTRACT_ENV["SAGEMAKER_PIPELINE_ROLE_ARN"],
        CONTRACT_ENV["ARTIFACT_BUCKET"],
        CONTRACT_ENV["MODEL_PACKAGE_GROUP_NAME"],
        CONTRACT_ENV["SAGEMAKER_PIPELINE_NAME"],
        "demo",
        "p-abc123",
        "demo",
    )
    assert not args.no_wait  # the build waits, so a failed pipeline fails the build
