"""CodePipeline executions that really run: source, build, deploy and approval actions.

Pipelines are moto's; executions, their stages, actions, artifacts and variables are ours.
EventBridge rules that target a pipeline start an execution of it, and creating a pipeline (by
CreatePipeline or a CloudFormation stack) starts it once, as CodePipeline does.
"""

from __future__ import annotations

from typing import Any

from moto.utilities.arns import parse_arn

from localcloud.services.codepipeline.api import CodePipelineService
from localcloud.services.events import delivery as events

TARGET = "CodePipeline_20150709"


def _deliverer(service: CodePipelineService):
    def deliver(target: dict[str, Any], event: dict[str, Any]) -> None:
        arn = parse_arn(target["Arn"])
        detail = f"{event.get('source', '')}: {event.get('detail-type', '')} (target {target.get('Id', '')})"
        service.start(arn.resource_id, arn.region, {"triggerType": "CloudWatchEvent", "triggerDetail": detail})

    return deliver


def install(cloud) -> CodePipelineService:
    service = CodePipelineService(cloud)
    routes = {
        "CreatePipeline": lambda call: service.create_pipeline(call.body, call.region, call.account),
        "StartPipelineExecution": lambda call: service.start_execution(call.body, call.region),
        "GetPipelineState": lambda call: service.get_pipeline_state(call.body, call.region),
        "GetPipelineExecution": lambda call: service.get_pipeline_execution(call.body),
        "ListPipelineExecutions": lambda call: service.list_pipeline_executions(call.body, call.region),
        "ListActionExecutions": lambda call: service.list_action_executions(call.body, call.region),
        "PutApprovalResult": lambda call: service.put_approval_result(call.body),
        "StopPipelineExecution": lambda call: service.stop_execution(call.body),
        "RetryStageExecution": lambda call: service.retry_stage(call.body),
        "DisableStageTransition": lambda call: service.transitions.disable(call.body, call.region),
        "EnableStageTransition": lambda call: service.transitions.enable(call.body, call.region),
    }
    for operation, handler in routes.items():
        cloud.gateway.json(TARGET, operation)(handler)
    events.register_deliverer("codepipeline", _deliverer(service))
    return service
