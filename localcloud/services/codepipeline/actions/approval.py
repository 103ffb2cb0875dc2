"""Manual approval: waits, across restarts, for PutApprovalResult with the token the state shows."""

from __future__ import annotations

import time
import uuid

from localcloud.services.codepipeline.actions import ActionContext, ActionFailed, Interrupted, Outcome


def run(ctx: ActionContext) -> Outcome:
    if not ctx.state.get("token"):
        ctx.state["token"] = str(uuid.uuid4())
        ctx.state["summary"] = ctx.configuration.get("CustomData", "")
        ctx.save()
    while not ctx.state.get("approvalResult"):
        if ctx.should_stop():
            raise Interrupted("approval no longer awaited")
        time.sleep(0.1)
    result = ctx.state["approvalResult"]
    summary = result.get("summary", "")
    if result["status"] == "Rejected":
        raise ActionFailed(f"Rejected: {summary}" if summary else "Rejected", "JobFailed")
    return Outcome(
        summary=f"Approved: {summary}" if summary else "Approved",
        external_url=ctx.configuration.get("ExternalEntityLink", ""),
    )
