"""The CodeBuild buildspec: Python 3.12 and a run_pipeline call fed by the project's env vars."""

from __future__ import annotations

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
