"""CodeBuild builds that really run: the buildspec's phases execute in the sandbox.

Projects are moto's (CreateProject, BatchGetProjects...); builds, their logs, artifacts and test
reports are ours. EventBridge rules that target a project start a build.
"""

from __future__ import annotations

import json
from typing import Any

from moto.utilities.arns import parse_arn

from localcloud.services.codebuild.api import CodeBuildService, patch_backend
from localcloud.services.events import delivery as events

TARGET = "CodeBuild_20161006"


def _deliverer(service: CodeBuildService):
    def deliver(target: dict[str, Any], event: dict[str, Any]) -> None:  # noqa: ARG001 - the event is not an input
        arn = parse_arn(target["Arn"])
        body = json.loads(target["Input"]) if target.get("Input") else {}
        body["projectName"] = arn.resource_id.split("/", 1)[-1]
        service.start_build(body, arn.region, initiator=f"events/{target.get('Id', 'rule')}")

    return deliver


def install(cloud) -> CodeBuildService:
    patch_backend()
    service = CodeBuildService(cloud)
    routes = {
        "StartBuild": lambda call: service.start_build(call.body, call.region),
        "BatchGetBuilds": lambda call: service.batch_get_builds(call.body),
        "ListBuilds": lambda call: service.list_builds(call.body),
        "ListBuildsForProject": lambda call: service.list_builds_for_project(call.body, call.region),
        "StopBuild": lambda call: service.stop_build(call.body),
        "ListReports": lambda call: service.list_reports(call.body),
        "ListReportGroups": lambda call: service.list_report_groups(call.body),
        "ListReportsForReportGroup": lambda call: service.list_reports_for_report_group(call.body),
        "BatchGetReports": lambda call: service.batch_get_reports(call.body),
        "DescribeTestCases": lambda call: service.describe_test_cases(call.body),
    }
    for operation, handler in routes.items():
        cloud.gateway.json(TARGET, operation)(handler)
    events.register_deliverer("codebuild", _deliverer(service))
    return service
