"""CodeBuild's build operations, served from our build records; projects stay in moto's backend.

StartBuild returns at once with the build IN_PROGRESS and a thread runs it. Builds that were
running when the local cloud stopped are marked FAILED on the next start (their sandbox died with
it); a pipeline that was waiting on one re-runs its action.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from moto.backends import get_backend
from moto.codebuild.exceptions import InvalidInputException
from moto.codebuild.models import CodeBuildBackend

from localcloud import ACCOUNT_ID
from localcloud.core import moto_seam as seam
from localcloud.core import names
from localcloud.core.errors import AwsError
from localcloud.services.codebuild.runner import Build

FOLDER = "codebuild/builds"
HIDDEN = ("region", "reports")


def _not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFoundException", message)


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidInputException", message)


class CodeBuildService:
    def __init__(self, cloud):
        self.cloud = cloud
        self.running: dict[str, Build] = {}
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    # records ------------------------------------------------------------------------------
    def _file(self, build_id: str) -> str:
        """A build's record file; only an id of the shape we make (``project:uuid``) gets one."""
        return f"{FOLDER}/{names.BUILD_ID.check(build_id).replace(':', '_')}.json"

    def save(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.cloud.state.write_json(self._file(record["id"]), record)

    def load(self, build_id: str) -> dict[str, Any] | None:
        build_id = build_id.rsplit(":build/", 1)[-1] if build_id.startswith("arn:") else build_id
        running = self.running.get(build_id)
        if running:
            return running.record
        if not names.BUILD_ID.is_valid(build_id):
            return None  # not an id we ever made, so no such build; it never reaches the disk
        path = self.cloud.state.root / self._file(build_id)
        return json.loads(path.read_text()) if path.exists() else None

    def all_records(self) -> list[dict[str, Any]]:
        return self.cloud.state.list_json(FOLDER)

    @staticmethod
    def project(name: str, region: str) -> dict[str, Any]:
        backend = get_backend("codebuild")[ACCOUNT_ID][region]
        name = name.rsplit(":project/", 1)[-1]
        project = backend.codebuild_projects.get(name)
        if project is None:
            raise _not_found(f"Project cannot be found: arn:aws:codebuild:{region}:{ACCOUNT_ID}:project/{name}")
        return project.project_metadata

    # StartBuild ---------------------------------------------------------------------------
    def start_build(self, body: dict[str, Any], region: str, initiator: str = "localcloud") -> dict[str, Any]:
        name = body.get("projectName") or ""
        if not name:
            raise _invalid("projectName is required: name the CodeBuild project to build")
        project = self.project(name, region)
        name = names.CODEBUILD_PROJECT.check(project["name"])
        secondary = body.get("secondarySourcesOverride") or project.get("secondarySources") or []
        for index, item in enumerate(secondary, 1):  # each becomes a folder of the build
            names.SOURCE_IDENTIFIER.at(f"secondarySources.{index}.member.sourceIdentifier").check(
                item.get("sourceIdentifier")
            )
        build_uuid = str(uuid.uuid4())
        build_id = f"{name}:{build_uuid}"
        number = 1 + sum(1 for r in self.all_records() if r["projectName"] == name)
        logs_config = (project.get("logsConfig") or {}).get("cloudWatchLogs") or {}
        logs_config = {**logs_config, **((body.get("logsConfigOverride") or {}).get("cloudWatchLogs") or {})}
        group, stream = "", ""
        if logs_config.get("status", "ENABLED") == "ENABLED":
            group = logs_config.get("groupName") or f"/aws/codebuild/{name}"
            stream = f"{logs_config['streamName']}/{build_uuid}" if logs_config.get("streamName") else build_uuid
        now = time.time()
        source = {**(project.get("source") or {})}
        if body.get("sourceTypeOverride"):
            source["type"] = body["sourceTypeOverride"]
        if body.get("sourceLocationOverride"):
            source["location"] = body["sourceLocationOverride"]
        if body.get("buildspecOverride"):
            source["buildspec"] = body["buildspecOverride"]
        environment = {**(project.get("environment") or {})}
        environment["environmentVariables"] = list(environment.get("environmentVariables") or []) + list(
            body.get("environmentVariablesOverride") or []
        )
        record = {
            "id": build_id,
            "arn": f"arn:aws:codebuild:{region}:{ACCOUNT_ID}:build/{build_id}",
            "buildNumber": number,
            "startTime": now,
            "currentPhase": "SUBMITTED",
            "buildStatus": "IN_PROGRESS",
            "sourceVersion": body.get("sourceVersion") or project.get("sourceVersion") or "",
            "projectName": name,
            "source": source,
            "secondarySources": body.get("secondarySourcesOverride") or project.get("secondarySources") or [],
            "secondarySourceVersions": [],
            "artifacts": {},
            "secondaryArtifacts": [],
            "environment": environment,
            "serviceRole": body.get("serviceRoleOverride") or project.get("serviceRole", ""),
            "logs": {
                "groupName": group,
                "streamName": stream,
                "deepLink": f"https://console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/"
                f"log-group/{group}/log-events/{stream}"
                if group
                else "",
                "cloudWatchLogsArn": f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{group}:log-stream:{stream}"
                if group
                else "",
                "cloudWatchLogs": {
                    "status": "ENABLED" if group else "DISABLED",
                    "groupName": group,
                    "streamName": stream,
                },
            },
            "timeoutInMinutes": body.get("timeoutInMinutesOverride") or project.get("timeoutInMinutes") or 60,
            "queuedTimeoutInMinutes": project.get("queuedTimeoutInMinutes") or 480,
            "buildComplete": False,
            "initiator": initiator,
            "encryptionKey": project.get("encryptionKey", ""),
            "phases": [
                {
                    "phaseType": "SUBMITTED",
                    "phaseStatus": "SUCCEEDED",
                    "startTime": now,
                    "endTime": now,
                    "durationInSeconds": 0,
                }
            ],
            "exportedEnvironmentVariables": [],
            "region": region,
        }
        project_view = {
            **project,
            "source": source,
            "environment": {
                **environment,
                "environmentVariables": project.get("environment", {}).get("environmentVariables") or [],
            },
        }
        build = Build(
            record,
            project_view,
            body,
            folder=self.cloud.state.root / "codebuild" / "work" / build_uuid,
            state_root=self.cloud.state.root,
            client=lambda service: self.cloud.client(service, region),
            client_env=self.cloud.session_environment(),
            save=self.save,
        )
        self.save(record)
        self.running[build_id] = build
        thread = threading.Thread(target=self._run, args=(build,), name=f"codebuild-{build_uuid[:8]}", daemon=True)
        self.threads.append(thread)
        thread.start()
        return {"build": self.view(record)}

    def _run(self, build: Build) -> None:
        try:
            build.run()
        finally:
            self.cloud.end_session(build.client_env)  # the build is over: its key signs nothing more
            self.running.pop(build.record["id"], None)

    # reads --------------------------------------------------------------------------------
    def view(self, record: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in record.items() if k not in HIDDEN}
        shown["reportArns"] = [self.report_arn(record, r["name"]) for r in record.get("reports", [])]
        return shown

    def batch_get_builds(self, body: dict[str, Any]) -> dict[str, Any]:
        ids = body.get("ids") or []
        if not ids:
            raise _invalid("ids is required: pass one or more build ids")
        found, missing = [], []
        for build_id in ids:
            record = self.load(build_id)
            (found.append(self.view(record)) if record else missing.append(build_id))
        return {"builds": found, "buildsNotFound": missing}

    def list_builds(self, body: dict[str, Any], project: str | None = None) -> dict[str, Any]:
        records = [r for r in self.all_records() if project is None or r["projectName"] == project]
        records.sort(key=lambda r: r["startTime"], reverse=body.get("sortOrder", "DESCENDING") == "DESCENDING")
        return {"ids": [r["id"] for r in records]}

    def list_builds_for_project(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        name = self.project(body.get("projectName") or "", region)["name"]
        return self.list_builds(body, name)

    def stop_build(self, body: dict[str, Any]) -> dict[str, Any]:
        build_id = body.get("id") or ""
        record = self.load(build_id)
        if record is None:
            raise _not_found(f"Build {build_id} does not exist")
        build = self.running.get(record["id"])
        if build:
            build.stop("STOPPED")
            deadline = time.monotonic() + 10
            while record["id"] in self.running and time.monotonic() < deadline:
                time.sleep(0.05)
        return {"build": self.view(self.load(record["id"]) or record)}

    # reports ------------------------------------------------------------------------------
    @staticmethod
    def report_group_arn(record: dict[str, Any], name: str) -> str:
        return f"arn:aws:codebuild:{record['region']}:{ACCOUNT_ID}:report-group/{record['projectName']}-{name}"

    def report_arn(self, record: dict[str, Any], name: str) -> str:
        group = self.report_group_arn(record, name).replace(":report-group/", ":report/")
        return f"{group}:{record['id'].split(':', 1)[1]}"

    def _reports(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        return [(record, report) for record in self.all_records() for report in record.get("reports", [])]

    def _report_view(self, record: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
        totals = report["testSummary"]
        failed = any(s in totals["statusCounts"] for s in ("FAILED", "ERROR"))
        return {
            "arn": self.report_arn(record, report["name"]),
            "type": "TEST",
            "name": report["name"],
            "reportGroupArn": self.report_group_arn(record, report["name"]),
            "executionId": record["arn"],
            "status": "FAILED" if failed else "SUCCEEDED",
            "created": record["startTime"],
            "expired": record["startTime"] + 30 * 86400,
            "testSummary": totals,
        }

    def list_reports_for_report_group(self, body: dict[str, Any]) -> dict[str, Any]:
        group = body.get("reportGroupArn", "")
        return {
            "reports": [
                self.report_arn(r, rep["name"])
                for r, rep in self._reports()
                if self.report_group_arn(r, rep["name"]) == group
            ]
        }

    def list_reports(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: ARG002 - no filters locally
        return {"reports": [self.report_arn(r, rep["name"]) for r, rep in self._reports()]}

    def list_report_groups(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: ARG002
        return {"reportGroups": sorted({self.report_group_arn(r, rep["name"]) for r, rep in self._reports()})}

    def batch_get_reports(self, body: dict[str, Any]) -> dict[str, Any]:
        wanted = body.get("reportArns") or []
        by_arn = {self.report_arn(r, rep["name"]): (r, rep) for r, rep in self._reports()}
        return {
            "reports": [self._report_view(*by_arn[a]) for a in wanted if a in by_arn],
            "reportsNotFound": [a for a in wanted if a not in by_arn],
        }

    def describe_test_cases(self, body: dict[str, Any]) -> dict[str, Any]:
        arn = body.get("reportArn", "")
        match = [(r, rep) for r, rep in self._reports() if self.report_arn(r, rep["name"]) == arn]
        if not match:
            raise _not_found(f"Report {arn} does not exist")
        status = (body.get("filter") or {}).get("status")
        cases = [
            {**case, "reportArn": arn, "expired": match[0][0]["startTime"] + 30 * 86400}
            for case in match[0][1]["testCases"]
            if not status or case["status"] == status
        ]
        return {"testCases": cases}

    # lifecycle ----------------------------------------------------------------------------
    def resume(self) -> None:
        """Builds cut off by a stop cannot be continued (their processes are gone): say so on the record."""
        for record in self.all_records():
            if record["buildStatus"] == "IN_PROGRESS" and record["id"] not in self.running:
                for phase in record["phases"]:
                    if phase.get("phaseStatus") == "IN_PROGRESS":
                        phase.update(
                            phaseStatus="FAILED",
                            endTime=time.time(),
                            contexts=[
                                {
                                    "statusCode": "CLIENT_ERROR",
                                    "message": "the local cloud stopped while this build ran; it is not run "
                                    "again, so that what it had started (a SageMaker pipeline execution, say) "
                                    "goes on once instead of twice",
                                }
                            ],
                        )
                record.update(buildStatus="FAILED", buildComplete=True, currentPhase="COMPLETED", endTime=time.time())
                self.save(record)

    def shutdown(self) -> None:
        for build in list(self.running.values()):
            build.stop("STOPPED")
        for thread in self.threads:
            thread.join(timeout=10)


def patch_backend() -> None:
    """moto's CreateProject accepts names like ``a/../../x``; CodeBuild does not, and a project's
    name becomes part of its builds' ids and record files. Checked in moto's backend, so the API
    and CloudFormation both refuse such a name before anything is recorded."""

    def wrap(original):
        def create_project(self, project_name: str, *args, **kwargs):
            problems = names.CODEBUILD_PROJECT.problems(project_name)
            if problems:
                raise InvalidInputException(names.invalid(problems).message)
            return original(self, project_name, *args, **kwargs)

        return create_project

    seam.patch(
        CodeBuildBackend,
        "create_project",
        wrap=wrap,
        why="a project name becomes part of build ids and file names: CodeBuild's pattern is checked first",
        until="moto validating project names as CodeBuild does",
    )
