"""Create or update the SageMaker pipeline, start it, wait for it and report every step.

Used by codebuild-buildspec.yml; every option defaults to the CodeBuild environment variable
named in brackets, so the build can simply run `python -m pipelines.run_pipeline`:

    python -m pipelines.run_pipeline \
        --region eu-west-1 --role-arn arn:aws:iam::111122223333:role/pipeline \
        --default-bucket sagemaker-project-p-abc --model-package-group-name demo-p-abc \
        --pipeline-name sagemaker-demo --base-job-prefix demo \
        --project-name demo --project-id p-abc \
        --parameters '{"AccuracyThreshold": 0.95}'

Exit status: 0 when the execution succeeds; 1 when it fails or stops (the failed step and its
reason are printed); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

import boto3

TERMINAL_STATUSES = ("Succeeded", "Failed", "Stopped")


def project_tags(project_name: str | None, project_id: str | None) -> list[dict]:
    """The tags that tie the pipeline to its SageMaker project (Studio lists it under the project)."""
    tags = []
    if project_name:
        tags.append({"Key": "sagemaker:project-name", "Value": project_name})
    if project_id:
        tags.append({"Key": "sagemaker:project-id", "Value": project_id})
    return tags


def parse_parameters(text: str | None) -> dict:
    """Parse --parameters: a JSON object of pipeline parameter overrides."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f'--parameters must be a JSON object such as {{"AccuracyThreshold": 0.95}}: {err}') from err
    if not isinstance(value, dict):
        raise ValueError(f'--parameters must be a JSON object such as {{"AccuracyThreshold": 0.95}}, got {text!r}')
    return value


def check_parameter_names(overrides: dict, declared: list[str]) -> None:
    """Reject overrides of parameters the pipeline does not declare (a typo would be silently ignored)."""
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise ValueError(f"unknown pipeline parameter(s) {unknown}; the pipeline declares {declared}")


def wait_for_execution(
    client,
    execution_arn: str,
    poll_seconds: float,
    timeout_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict:
    """Poll DescribePipelineExecution until the execution ends; return the last description.

    Polls quickly at first and backs off to ``poll_seconds``, so short runs are reported as soon
    as they end and long ones cost few calls.
    """
    deadline = clock() + timeout_seconds
    interval = min(1.0, poll_seconds)
    while True:
        description = client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        if description["PipelineExecutionStatus"] in TERMINAL_STATUSES:
            return description
        if clock() >= deadline:
            raise TimeoutError(
                f"pipeline execution {execution_arn} still {description['PipelineExecutionStatus']} "
                f"after {timeout_seconds:.0f}s: raise --timeout-minutes or check it in SageMaker Studio"
            )
        sleep(interval)
        interval = min(interval * 1.5, poll_seconds)


def execution_steps(client, execution_arn: str) -> list[dict]:
    """All steps of the execution, oldest first (the API lists newest first, in pages)."""
    steps, token = [], None
    while True:
        kwargs = {"PipelineExecutionArn": execution_arn, "SortOrder": "Ascending"}
        if token:
            kwargs["NextToken"] = token
        page = client.list_pipeline_execution_steps(**kwargs)
        steps.extend(page.get("PipelineExecutionSteps", []))
        token = page.get("NextToken")
        if not token:
            return steps


def report(description: dict, steps: list[dict], out: TextIO = sys.stdout) -> int:
    """Print one line per step and a verdict; return the process exit status."""
    status = description["PipelineExecutionStatus"]
    print(f"Pipeline execution {description.get('PipelineExecutionArn', '')}: {status}", file=out)
    width = max([len(s.get("StepName", "")) for s in steps] + [4])
    for step in steps:
        line = f"  {step.get('StepName', '?'):<{width}}  {step.get('StepStatus', '?')}"
        if step.get("FailureReason"):
            line += f"  - {step['FailureReason']}"
        print(line, file=out)
    if status == "Succeeded":
        return 0
    failed = [s for s in steps if s.get("StepStatus") in ("Failed", "Stopped")]
    if failed:
        for step in failed:
            reason = step.get("FailureReason") or "no reason reported"
            print(f"Step '{step['StepName']}' {step['StepStatus'].lower()}: {reason}", file=out)
    else:
        reason = description.get("FailureReason") or "no failed step reported"
        print(f"Pipeline execution {status.lower()}: {reason}", file=out)
    return 1


def build_arg_parser() -> argparse.ArgumentParser:
    env = os.environ
    parser = argparse.ArgumentParser(description="Upsert, start and follow the ModelBuild pipeline.")
    parser.add_argument("--region", default=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"), help="[AWS_REGION]")
    parser.add_argument(
        "--role-arn",
        default=env.get("SAGEMAKER_PIPELINE_ROLE_ARN"),
        help="role of the pipeline and its jobs [SAGEMAKER_PIPELINE_ROLE_ARN]",
    )
    parser.add_argument("--default-bucket", default=env.get("ARTIFACT_BUCKET"), help="[ARTIFACT_BUCKET]")
    parser.add_argument(
        "--model-package-group-name",
        default=env.get("MODEL_PACKAGE_GROUP_NAME"),
        help="[MODEL_PACKAGE_GROUP_NAME]",
    )
    parser.add_argument("--pipeline-name", default=env.get("SAGEMAKER_PIPELINE_NAME"), help="[SAGEMAKER_PIPELINE_NAME]")
    parser.add_argument(
        "--project-name",
        default=env.get("SAGEMAKER_PROJECT_NAME"),
        help="tags the pipeline; also the default job prefix [SAGEMAKER_PROJECT_NAME]",
    )
    parser.add_argument("--project-id", default=env.get("SAGEMAKER_PROJECT_ID"), help="[SAGEMAKER_PROJECT_ID]")
    parser.add_argument("--base-job-prefix", default=None, help="job name / S3 key prefix (default: project name)")
    parser.add_argument(
        "--input-data-url",
        default=None,
        help="default InputDataUrl; without it the shipped CSV is uploaded and used",
    )
    parser.add_argument("--parameters", default=None, help="JSON object of parameter overrides for this run")
    parser.add_argument("--no-wait", action="store_true", help="start the execution and return")
    parser.add_argument("--poll-seconds", type=float, default=30.0, help="longest wait between status checks")
    parser.add_argument("--timeout-minutes", type=float, default=120.0)
    return parser


def resolve_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse and insist on every value that has no sensible default, naming its env var."""
    args = parser.parse_args(argv)
    args.base_job_prefix = args.base_job_prefix or args.project_name
    required = {
        "region": "--region / AWS_REGION",
        "role_arn": "--role-arn / SAGEMAKER_PIPELINE_ROLE_ARN",
        "default_bucket": "--default-bucket / ARTIFACT_BUCKET",
        "model_package_group_name": "--model-package-group-name / MODEL_PACKAGE_GROUP_NAME",
        "pipeline_name": "--pipeline-name / SAGEMAKER_PIPELINE_NAME",
        "base_job_prefix": "--base-job-prefix or --project-name / SAGEMAKER_PROJECT_NAME",
    }
    missing = [flag for attr, flag in required.items() if not getattr(args, attr)]
    if missing:
        parser.error("missing " + ", ".join(missing))
    try:
        args.parameter_overrides = parse_parameters(args.parameters)
    except ValueError as err:
        parser.error(str(err))
    return args


def pipeline_from_args(args: argparse.Namespace):
    """The pipeline the resolved command-line arguments describe."""
    from pipelines.pipeline import get_pipeline  # heavy import: after argument errors are reported

    return get_pipeline(
        region=args.region,
        role=args.role_arn,
        default_bucket=args.default_bucket,
        model_package_group_name=args.model_package_group_name,
        pipeline_name=args.pipeline_name,
        base_job_prefix=args.base_job_prefix,
        input_data_url=args.input_data_url,
    )


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = build_arg_parser()
    args = resolve_args(parser, argv)

    pipeline = pipeline_from_args(args)
    try:
        check_parameter_names(args.parameter_overrides, [p.name for p in pipeline.parameters])
    except ValueError as err:
        parser.error(str(err))

    response = pipeline.upsert(role_arn=args.role_arn, tags=project_tags(args.project_name, args.project_id))
    print(f"Upserted pipeline {response['PipelineArn']}", file=out)
    execution = pipeline.start(parameters=args.parameter_overrides or None)
    print(f"Started execution {execution.arn}", file=out)
    if args.no_wait:
        return 0

    client = boto3.Session(region_name=args.region).client("sagemaker")
    description = wait_for_execution(client, execution.arn, args.poll_seconds, args.timeout_minutes * 60)
    return report(description, execution_steps(client, execution.arn), out)


if __name__ == "__main__":
    sys.exit(main())
