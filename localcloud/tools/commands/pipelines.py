"""``localcloud pipelines``: CodePipeline executions stage by stage, SageMaker pipeline executions
step by step, and answers to manual approvals."""

from __future__ import annotations

from localcloud.tools.commands import client, table


def show_codepipeline(args) -> int:
    codepipeline = client("codepipeline")
    state = codepipeline.get_pipeline_state(name=args.name)
    executions = codepipeline.list_pipeline_executions(pipelineName=args.name, maxResults=args.limit)
    rows = [
        [e["pipelineExecutionId"], e["status"], e.get("startTime", ""), e.get("trigger", {}).get("triggerType", "")]
        for e in executions.get("pipelineExecutionSummaries", [])
    ]
    print(f"pipeline {args.name}")
    print(table(rows, ["execution", "status", "started", "trigger"]) if rows else "  no executions yet")
    print()
    stage_rows = []
    for stage in state.get("stageStates", []):
        for action in stage.get("actionStates", []):
            latest = action.get("latestExecution", {})
            summary = latest.get("summary") or latest.get("errorDetails", {}).get("message", "")
            stage_rows.append([stage["stageName"], action["actionName"], latest.get("status", "-"), summary[:80]])
    print(table(stage_rows, ["stage", "action", "status", "summary"]))
    return 0


def show_sagemaker(args) -> int:
    sagemaker = client("sagemaker")
    executions = sagemaker.list_pipeline_executions(PipelineName=args.name, MaxResults=args.limit)
    for execution in executions["PipelineExecutionSummaries"]:
        print(
            f"{execution['PipelineExecutionArn'].rsplit('/', 1)[1]}  {execution['PipelineExecutionStatus']}"
            f"  {execution.get('PipelineExecutionFailureReason', '')}"
        )
        steps = sagemaker.list_pipeline_execution_steps(
            PipelineExecutionArn=execution["PipelineExecutionArn"], SortOrder="Ascending"
        )["PipelineExecutionSteps"]
        for step in steps:
            took = (step["EndTime"] - step["StartTime"]).total_seconds() if step.get("EndTime") else None
            print(
                f"    {step['StepName']:<24}{step['StepStatus']:<11}"
                f"{f'{took:.1f} s' if took is not None else '':>8}  {step.get('FailureReason', '')}"
            )
    if not executions["PipelineExecutionSummaries"]:
        print(f"no executions of {args.name}")
    return 0


def answer_approval(status: str):
    def run(args) -> int:
        codepipeline = client("codepipeline")
        state = codepipeline.get_pipeline_state(name=args.name)
        for stage in state.get("stageStates", []):
            for action in stage.get("actionStates", []):
                latest = action.get("latestExecution", {})
                if latest.get("token") and latest.get("status") == "InProgress":
                    codepipeline.put_approval_result(
                        pipelineName=args.name,
                        stageName=stage["stageName"],
                        actionName=action["actionName"],
                        result={"summary": args.summary or f"{status} from the localcloud CLI", "status": status},
                        token=latest["token"],
                    )
                    print(f"{args.name} {stage['stageName']}/{action['actionName']}: {status}")
                    return 0
        raise RuntimeError(f"pipeline {args.name} has no manual approval waiting for an answer")

    return run


def add_parser(commands) -> None:
    pipelines = commands.add_parser("pipelines", help="CodePipeline and SageMaker pipeline executions")
    sub = pipelines.add_subparsers(dest="pipelines_command", required=True)
    show = sub.add_parser("show", help="a CodePipeline's executions and current state, stage by stage")
    show.add_argument("name")
    show.add_argument("--limit", type=int, default=5)
    show.set_defaults(run=show_codepipeline)
    steps = sub.add_parser("steps", help="a SageMaker pipeline's executions, step by step")
    steps.add_argument("name")
    steps.add_argument("--limit", type=int, default=3)
    steps.set_defaults(run=show_sagemaker)
    for name, status in (("approve", "Approved"), ("reject", "Rejected")):
        command = sub.add_parser(name, help=f"answer the pipeline's waiting manual approval: {status}")
        command.add_argument("name", help="CodePipeline name")
        command.add_argument("--summary", default=None)
        command.set_defaults(run=answer_approval(status))
