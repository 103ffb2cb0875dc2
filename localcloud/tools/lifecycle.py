"""The template's lifecycle, driven through the AWS APIs as its users drive it.

Shared by ``make demo``, the end-to-end tests and ``bench/e2e.py``: create a project from the
published product (which starts both CodePipelines once, as CodePipeline starts every new pipeline:
ModelBuild trains and registers a model from the seed commit, ModelDeploy stops at its build for want
of an approved one), push commits, wait for a registered model, approve it, wait for staging to
pass, approve production, invoke the endpoint, delete the project. Every wait names what it waited
for and, on failure, the failing stage's reason.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class LifecycleError(RuntimeError):
    """A stage of the lifecycle failed; the message says which and why."""


def wait_until(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.25) -> Any:
    """Poll ``check`` until it returns something truthy; it may raise LifecycleError to stop early."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise LifecycleError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Project:
    name: str
    project_id: str
    created: float = 0.0  # when CreateProject was called: every run of its pipelines started after it
    stack_outputs: dict[str, str] = field(default_factory=dict)

    @property
    def group(self) -> str:
        return f"{self.name}-{self.project_id}"

    @property
    def bucket(self) -> str:
        return f"sagemaker-project-{self.project_id}"

    @property
    def modelbuild_repo(self) -> str:
        return f"sagemaker-{self.name}-modelbuild"

    @property
    def modeldeploy_repo(self) -> str:
        return f"sagemaker-{self.name}-modeldeploy"

    @property
    def sagemaker_pipeline(self) -> str:
        return f"sagemaker-{self.name}"

    @property
    def modelbuild_pipeline(self) -> str:
        return f"sagemaker-{self.name}-{self.project_id}-modelbuild"

    @property
    def modeldeploy_pipeline(self) -> str:
        return f"sagemaker-{self.name}-{self.project_id}-modeldeploy"

    @property
    def staging_endpoint(self) -> str:
        return f"{self.name}-staging"

    @property
    def prod_endpoint(self) -> str:
        return f"{self.name}-prod"


class Lifecycle:
    def __init__(self, clients: Callable[[str], Any]):
        self.client = clients

    # projects ---------------------------------------------------------------------------
    def find_product(self, name_contains: str = "MLOps") -> tuple[str, str]:
        """The published product's id and its newest provisioning artifact."""
        catalog = self.client("servicecatalog")
        products = catalog.search_products_as_admin()["ProductViewDetails"]
        matching = [
            p["ProductViewSummary"]
            for p in products
            if name_contains.lower() in p["ProductViewSummary"]["Name"].lower()
        ]
        if not matching:
            raise LifecycleError("no MLOps product is published: run 'localcloud publish' (or make demo)")
        product_id = matching[0]["ProductId"]
        artifacts = catalog.list_provisioning_artifacts(ProductId=product_id)["ProvisioningArtifactDetails"]
        return product_id, sorted(artifacts, key=lambda a: a["CreatedTime"])[-1]["Id"]

    def create_project(self, name: str, parameters: dict[str, str] | None = None, timeout: float = 120) -> Project:
        product_id, artifact_id = self.find_product()
        sagemaker = self.client("sagemaker")
        asked = time.time()
        created = sagemaker.create_project(
            ProjectName=name,
            ProjectDescription="created by the localcloud lifecycle",
            ServiceCatalogProvisioningDetails={
                "ProductId": product_id,
                "ProvisioningArtifactId": artifact_id,
                "ProvisioningParameters": [{"Key": k, "Value": v} for k, v in (parameters or {}).items()],
            },
        )

        return self._created(name, created["ProjectId"], asked, timeout)

    def create_project_from_template(
        self, name: str, template_url: str, parameters: dict[str, str] | None = None, timeout: float = 120
    ) -> Project:
        """What SageMaker does with an S3 project template (TemplateProviders) instead of a product."""
        sagemaker = self.client("sagemaker")
        asked = time.time()
        created = sagemaker.create_project(
            ProjectName=name,
            ProjectDescription="created by the localcloud lifecycle from an S3 template",
            TemplateProviders=[
                {
                    "CfnTemplateProvider": {
                        "TemplateName": "mlops",
                        "TemplateURL": template_url,
                        "Parameters": [{"Key": k, "Value": v} for k, v in (parameters or {}).items()],
                    }
                }
            ],
        )

        return self._created(name, created["ProjectId"], asked, timeout)

    def _created(self, name: str, project_id: str, asked: float, timeout: float) -> Project:
        """Wait for a project asked for at ``asked`` to be created, whichever route made it."""
        sagemaker = self.client("sagemaker")

        def created_or_failed():
            described = sagemaker.describe_project(ProjectName=name)
            if described["ProjectStatus"] == "CreateFailed":
                raise LifecycleError(f"project {name} failed to create: {_reason(described)}")
            return described["ProjectStatus"] == "CreateCompleted"

        wait_until(f"project {name} to be created", created_or_failed, timeout)
        return Project(name, project_id, asked)

    def update_project(
        self,
        name: str,
        artifact_id: str | None = None,
        template_url: str | None = None,
        parameters: dict[str, str] | None = None,
        timeout: float = 300,
    ) -> dict:
        """Move a project to a new template version: by default its product's newest provisioning artifact,
        or for a project made from an S3 template, the template at ``template_url`` (default: the same URL,
        read again). Waits for UpdateCompleted; UpdateFailed raises with the stack's reason."""
        sagemaker = self.client("sagemaker")
        described = sagemaker.describe_project(ProjectName=name)
        given = [{"Key": k, "Value": v} for k, v in (parameters or {}).items()]
        if described.get("TemplateProviderDetails"):
            current = described["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"]
            provider = {"TemplateName": current["TemplateName"], "TemplateURL": template_url or current["TemplateURL"]}
            sagemaker.update_project(
                ProjectName=name, TemplateProvidersToUpdate=[{"CfnTemplateProvider": {**provider, "Parameters": given}}]
            )
        else:
            if template_url:
                raise LifecycleError(f"project {name} was made from a Service Catalog product: pass an artifact id")
            product_id = described["ServiceCatalogProvisioningDetails"]["ProductId"]
            artifacts = self.client("servicecatalog").list_provisioning_artifacts(ProductId=product_id)
            newest = sorted(artifacts["ProvisioningArtifactDetails"], key=lambda a: a["CreatedTime"])[-1]["Id"]
            sagemaker.update_project(
                ProjectName=name,
                ServiceCatalogProvisioningUpdateDetails={
                    "ProvisioningArtifactId": artifact_id or newest,
                    "ProvisioningParameters": given,
                },
            )

        def updated_or_failed():
            now = sagemaker.describe_project(ProjectName=name)
            if now["ProjectStatus"] == "UpdateFailed":
                raise LifecycleError(f"project {name} failed to update (it stays as it was): {_reason(now)}")
            return now if now["ProjectStatus"] == "UpdateCompleted" else None

        return wait_until(f"project {name} to be updated", updated_or_failed, timeout)

    def delete_project(self, name: str, timeout: float = 120) -> None:
        sagemaker = self.client("sagemaker")
        sagemaker.delete_project(ProjectName=name)

        def gone():
            projects = sagemaker.list_projects(NameContains=name)["ProjectSummaryList"]
            for project in projects:
                if project["ProjectName"] == name and project["ProjectStatus"] == "DeleteFailed":
                    raise LifecycleError(f"project {name} failed to delete")
            return not any(p["ProjectName"] == name for p in projects)

        wait_until(f"project {name} to be deleted", gone, timeout)

    # repositories -----------------------------------------------------------------------
    def clone_url(self, repository: str) -> str:
        return self.client("codecommit").get_repository(repositoryName=repository)["repositoryMetadata"]["cloneUrlHttp"]

    def push_change(self, repository: str, change: Callable[[Path], None], message: str, branch: str = "main") -> str:
        """Clone, apply ``change`` to the work tree, commit and push; returns the commit id."""
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch) / "repo"
            _git("clone", "--quiet", "--branch", branch, self.clone_url(repository), str(work))
            change(work)
            _git("-C", str(work), "add", "-A")
            _git(
                "-C",
                str(work),
                "-c",
                "user.name=Data Scientist",
                "-c",
                "user.email=ds@example.com",
                "commit",
                "--quiet",
                "-m",
                message,
            )
            _git("-C", str(work), "push", "--quiet", "origin", branch)
            return _git("-C", str(work), "rev-parse", "HEAD").strip()

    # CodePipeline -----------------------------------------------------------------------
    def creation_run(self, pipeline: str) -> dict:
        """The run CodePipeline started when the pipeline was created."""
        summaries = self.client("codepipeline").list_pipeline_executions(pipelineName=pipeline)
        for summary in summaries.get("pipelineExecutionSummaries", []):
            if summary["trigger"]["triggerType"] == "CreatePipeline":
                return summary
        raise LifecycleError(f"{pipeline} has no run started by its creation")

    def wait_for_run_end(self, pipeline: str, execution_id: str, timeout: float) -> dict:
        """Wait for one run to end, however it ends; returns GetPipelineExecution's answer."""
        codepipeline = self.client("codepipeline")

        def ended():
            run = codepipeline.get_pipeline_execution(pipelineName=pipeline, pipelineExecutionId=execution_id)
            run = run["pipelineExecution"]
            return run if run["status"] not in ("InProgress", "Stopping") else None

        return wait_until(f"run {execution_id} of {pipeline} to end", ended, timeout)

    def latest_execution(self, pipeline: str, after: float) -> dict | None:
        summaries = self.client("codepipeline").list_pipeline_executions(pipelineName=pipeline)
        for summary in summaries.get("pipelineExecutionSummaries", []):
            if summary["startTime"].timestamp() >= after - 1:
                return summary
        return None

    def wait_for_execution(self, pipeline: str, after: float, timeout: float, until_stage: str | None = None) -> dict:
        """Wait for a run that started after ``after`` to succeed (or to reach ``until_stage``)."""
        codepipeline = self.client("codepipeline")

        def progressed():
            summary = self.latest_execution(pipeline, after)
            if not summary:
                return None
            if summary["status"] in ("Failed", "Stopped", "Superseded", "Cancelled"):
                raise LifecycleError(f"{pipeline} {summary['status'].lower()}: {self.failure(pipeline)}")
            if until_stage:
                for stage in codepipeline.get_pipeline_state(name=pipeline)["stageStates"]:
                    latest = stage.get("latestExecution", {})
                    if (
                        stage["stageName"] == until_stage
                        and latest.get("status") == "InProgress"
                        and latest.get("pipelineExecutionId") == summary["pipelineExecutionId"]
                    ):
                        return summary
                return None
            return summary if summary["status"] == "Succeeded" else None

        return wait_until(f"{pipeline} to {'reach ' + until_stage if until_stage else 'succeed'}", progressed, timeout)

    def failure(self, pipeline: str) -> str:
        """The first failed action of the pipeline's current state and its message."""
        for stage in self.client("codepipeline").get_pipeline_state(name=pipeline)["stageStates"]:
            for action in stage.get("actionStates", []):
                latest = action.get("latestExecution", {})
                if latest.get("status") == "Failed":
                    details = latest.get("errorDetails", {}).get("message") or latest.get("summary", "")
                    return f"stage {stage['stageName']}, action {action['actionName']}: {details}"
        return "no failed action recorded"

    def failed_build_log(self, pipeline: str, execution_id: str) -> list[str]:
        """The log lines of the CodeBuild build whose failure failed this run (CloudWatch Logs)."""
        details = self.client("codepipeline").list_action_executions(
            pipelineName=pipeline, filter={"pipelineExecutionId": execution_id}
        )["actionExecutionDetails"]
        failed = [
            d for d in details if d["status"] == "Failed" and d["input"]["actionTypeId"].get("provider") == "CodeBuild"
        ]
        build_id = failed[0]["output"]["executionResult"].get("externalExecutionId") if failed else None
        if not build_id:
            raise LifecycleError(f"run {execution_id} of {pipeline} has no failed build")
        build = self.client("codebuild").batch_get_builds(ids=[build_id])["builds"][0]
        events = self.client("logs").get_log_events(
            logGroupName=build["logs"]["groupName"], logStreamName=build["logs"]["streamName"], startFromHead=True
        )["events"]
        return [e["message"] for e in events]

    def answer_approval(self, pipeline: str, stage: str, approve: bool = True, timeout: float = 30) -> None:
        """Answer the manual approval waiting in ``stage``; waits for its token, which the stage gets a
        moment after it starts."""
        codepipeline = self.client("codepipeline")

        def waiting_approval():
            for stage_state in codepipeline.get_pipeline_state(name=pipeline)["stageStates"]:
                if stage_state["stageName"] != stage:
                    continue
                for action in stage_state.get("actionStates", []):
                    token = action.get("latestExecution", {}).get("token")
                    if token:
                        return action["actionName"], token
            return None

        try:
            action_name, token = wait_until(f"an approval in {pipeline} {stage}", waiting_approval, timeout)
        except LifecycleError:
            raise LifecycleError(f"{pipeline} has no approval waiting in stage {stage}") from None
        codepipeline.put_approval_result(
            pipelineName=pipeline,
            stageName=stage,
            actionName=action_name,
            token=token,
            result={"status": "Approved" if approve else "Rejected", "summary": "answered by the localcloud lifecycle"},
        )

    def wait_for_package(self, group: str, after: float, timeout: float) -> dict:
        sagemaker = self.client("sagemaker")

        def registered():
            packages = sagemaker.list_model_packages(
                ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending"
            )["ModelPackageSummaryList"]
            fresh = [p for p in packages if p["CreationTime"].timestamp() >= after - 1]
            return fresh[0] if fresh else None

        return wait_until(f"a model package in {group}", registered, timeout)

    def approve_package(self, arn: str, approve: bool = True) -> None:
        self.client("sagemaker").update_model_package(
            ModelPackageArn=arn,
            ModelApprovalStatus="Approved" if approve else "Rejected",
            ApprovalDescription="answered by the localcloud lifecycle",
        )

    def invoke(self, endpoint: str, csv_rows: list[str]) -> dict:
        import json

        response = self.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Accept="application/json", Body="\n".join(csv_rows)
        )
        return json.loads(response["Body"].read())


def _reason(described: dict) -> str:
    """Why a project's last change failed, from whichever route made it."""
    if described.get("TemplateProviderDetails"):
        stack = described["TemplateProviderDetails"][0]["CfnTemplateProviderDetail"].get("StackDetail", {})
        return stack.get("StatusMessage", "?")
    return described.get("ServiceCatalogProvisionedProductDetails", {}).get("ProvisionedProductStatusMessage", "?")


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise LifecycleError(f"git {' '.join(args[:3])} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout
