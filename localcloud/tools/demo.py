"""``make demo``: from nothing to a model serving in "production", on one machine.

Starts the local cloud, publishes the product, creates a project (which starts both pipelines once,
as CodePipeline does: ModelBuild trains on the seed commit, ModelDeploy stops at Build for want of an
approved model), waits for the registered model, approves it, waits for staging to pass its endpoint
tests, approves production, invokes the production endpoint and prints a summary. Exits non-zero
naming the failing stage and its reason.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass

from botocore.exceptions import ClientError

from localcloud import DEFAULT_REGION
from localcloud.core import config
from localcloud.tools import daemon
from localcloud.tools.lifecycle import Lifecycle, LifecycleError

PRODUCT_SOURCES = ("service_catalog", "modelbuild", "modeldeploy", "seed_code")


def synth_if_stale() -> None:
    """Synthesize the product unless cdk.out is newer than every source it is made of."""
    manifest = config.REPO_ROOT / "cdk.out" / "manifest.json"
    if manifest.exists():
        built = manifest.stat().st_mtime
        newest = max(
            (
                p.stat().st_mtime
                for folder in PRODUCT_SOURCES
                for p in (config.REPO_ROOT / folder).rglob("*")
                if p.is_file() and "__pycache__" not in p.parts
            ),
            default=0,
        )
        if newest < built:
            return
    subprocess.run(
        [sys.executable, "-m", "service_catalog.synth"], cwd=config.REPO_ROOT, check=True, stdout=subprocess.DEVNULL
    )


class Timeline:
    """Prints each stage as it starts and ends, and keeps the times for the summary."""

    def __init__(self):
        self.times: list[tuple[str, float]] = []

    @contextmanager
    def stage(self, title: str):
        print(f"==> {title} ...", flush=True)
        began = time.monotonic()
        try:
            yield
        except LifecycleError:
            raise
        except (RuntimeError, ClientError, subprocess.CalledProcessError) as error:
            raise LifecycleError(f"{title}: {error}") from error
        took = time.monotonic() - began
        self.times.append((title, took))
        print(f"    done in {took:.1f} s", flush=True)


def test_rows(s3, uri: str, target: str, count: int) -> tuple[list[str], list[str]]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    rows = list(csv.DictReader(io.StringIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())))[:count]
    features = [",".join(v for k, v in row.items() if k != target) for row in rows]
    return features, [row[target] for row in rows]


@dataclass
class DemoResult:
    stage_seconds: list[tuple[str, float]]
    project_to_production: float  # from CreateProject to the production endpoint serving
    accuracy: float


def run(project_name: str, keep_previous: bool, next_steps: bool = True) -> DemoResult:
    timeline = Timeline()
    with timeline.stage("starting the local cloud"):
        status = daemon.start()
        print(f"    {status.url} (state in {status.state_dir})")

    def client(service: str):
        return config.client(status.url, service, DEFAULT_REGION, status.state_dir)

    life = Lifecycle(client)
    with timeline.stage("synthesizing and publishing the Service Catalog product"):
        synth_if_stale()
        from localcloud.tools.publish import publish

        publish(config.REPO_ROOT / "cdk.out", status.url, state=status.state_dir)
    existing = client("sagemaker").list_projects(NameContains=project_name)["ProjectSummaryList"]
    if any(p["ProjectName"] == project_name for p in existing):
        if keep_previous:
            raise LifecycleError(f"project {project_name} already exists: pick another --project-name")
        with timeline.stage(f"deleting the previous demo project {project_name}"):
            life.delete_project(project_name)
    with timeline.stage(f"creating project {project_name} (what SageMaker Studio does)"):
        project = life.create_project(project_name)
        print(
            f"    project id {project.project_id}; repositories {project.modelbuild_repo}, {project.modeldeploy_repo}"
        )
    with timeline.stage("ModelDeploy's first run, started by its creation: stops at Build, nothing is approved"):
        first_deploy = life.creation_run(project.modeldeploy_pipeline)
        ended = life.wait_for_run_end(project.modeldeploy_pipeline, first_deploy["pipelineExecutionId"], timeout=300)
        if ended["status"] != "Failed":
            raise LifecycleError(f"{project.modeldeploy_pipeline}'s first run {ended['status']}, expected Failed")
        log = life.failed_build_log(project.modeldeploy_pipeline, first_deploy["pipelineExecutionId"])
        reason = next((line for line in log if "No Approved model package" in line), None)
        if reason is None:
            raise LifecycleError(
                f"{project.modeldeploy_pipeline}'s first run failed: {life.failure(project.modeldeploy_pipeline)}"
            )
        print(f"    {reason.strip()[:160]}")
    with timeline.stage(
        "ModelBuild's first run, on the seed commit: CodeBuild -> SageMaker pipeline -> registered model"
    ):
        life.wait_for_execution(project.modelbuild_pipeline, project.created, timeout=600)
        package = life.wait_for_package(project.group, project.created, timeout=30)
        described = client("sagemaker").describe_model_package(ModelPackageName=package["ModelPackageArn"])
        metrics_uri = described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
        bucket, _, key = metrics_uri[len("s3://") :].partition("/")
        report = json.loads(client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
        accuracy = report["binary_classification_metrics"]["accuracy"]["value"]
        print(f"    {package['ModelPackageArn']} ({package['ModelApprovalStatus']}), accuracy {accuracy:.4f}")
    approved = time.time()
    with timeline.stage("approving the model package (what an approver does in the registry)"):
        life.approve_package(package["ModelPackageArn"])
    with timeline.stage("ModelDeploy: build -> deploy staging -> test staging (real invocations)"):
        life.wait_for_execution(project.modeldeploy_pipeline, approved, timeout=600, until_stage="ApproveDeployment")
    with timeline.stage("approving the production deployment"):
        life.answer_approval(project.modeldeploy_pipeline, "ApproveDeployment")
    with timeline.stage("ModelDeploy: deploy prod (blue/green)"):
        life.wait_for_execution(project.modeldeploy_pipeline, approved, timeout=600)
    in_production = time.time()
    with timeline.stage(f"invoking the production endpoint {project.prod_endpoint}"):
        metadata = described["CustomerMetadataProperties"]
        rows, labels = test_rows(client("s3"), metadata["TestDataS3Uri"], metadata["TargetColumn"], 5)
        answer = life.invoke(project.prod_endpoint, rows)
        for prediction, label in zip(answer["predictions"], labels, strict=True):
            print(
                f"    predicted {prediction['label']} (p={max(prediction['probabilities'].values()):.3f}), "
                f"actual {label}"
            )

    print("\nSummary")
    for title, took in timeline.times:
        print(f"  {took:6.1f} s  {title}")
    print(f"  project -> production: {in_production - project.created:.1f} s")
    print(f"  model accuracy {accuracy:.4f} (threshold {metadata['AccuracyThreshold']})")
    print(f"  endpoints: {project.staging_endpoint}, {project.prod_endpoint}")
    if next_steps:
        print_next_steps(project, rows[0])
    return DemoResult(timeline.times, in_production - project.created, accuracy)


def print_next_steps(project, sample_row: str) -> None:
    print("\nThe local cloud keeps running. Try:")
    print(f"  .venv/bin/localcloud endpoints invoke {project.prod_endpoint} --body '{sample_row}'")
    print(f"  .venv/bin/localcloud pipelines show {project.modeldeploy_pipeline}")
    print(f"  .venv/bin/localcloud projects delete {project.name}   # removes endpoints, empties the bucket")
    print("  .venv/bin/localcloud stop")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project-name", default="mlops-demo")
    parser.add_argument(
        "--keep-previous", action="store_true", help="fail instead of deleting an existing project of the same name"
    )
    args = parser.parse_args(argv)
    try:
        run(args.project_name, args.keep_previous)
        return 0
    except LifecycleError as error:
        print(f"\ndemo failed: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
