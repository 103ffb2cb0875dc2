"""Pushes become ``CodeCommit Repository State Change`` events on the default bus.

The repositories' ``post-receive`` hook posts the updated refs here; each ref becomes one event in
AWS's shape, so EventBridge rules written for CodeCommit (for example the one that starts a
CodePipeline) match them unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from moto.events.models import events_backends
from werkzeug.wrappers import Response

from localcloud import ACCOUNT_ID
from localcloud.core import names
from localcloud.core.errors import validation_error
from localcloud.services.codecommit import gitrepo, hook, repositories

REF_KINDS = {"refs/heads/": "branch", "refs/tags/": "tag"}


def detail_for(metadata: dict[str, Any], old: str, new: str, ref: str) -> dict[str, Any] | None:
    kind = next(((prefix, k) for prefix, k in REF_KINDS.items() if ref.startswith(prefix)), None)
    if kind is None:
        return None  # notes, pull-request refs...: CodeCommit announces branches and tags only
    prefix, reference_type = kind
    if old == gitrepo.ZERO_COMMIT:
        event = "referenceCreated"
    elif new == gitrepo.ZERO_COMMIT:
        event = "referenceDeleted"
    else:
        event = "referenceUpdated"
    detail = {
        "event": event,
        "repositoryName": metadata["repositoryName"],
        "repositoryId": metadata["repositoryId"],
        "referenceType": reference_type,
        "referenceName": ref[len(prefix) :],
        "referenceFullName": ref,
        "callerUserArn": f"arn:aws:iam::{metadata['accountId']}:root",
    }
    if event != "referenceDeleted":
        detail["commitId"] = new
    if event != "referenceCreated":
        detail["oldCommitId"] = old
    return detail


def entries_for(metadata: dict[str, Any], updates: list[dict[str, str]]) -> list[dict[str, Any]]:
    entries = []
    for update in updates:
        detail = detail_for(metadata, update["old"], update["new"], update["ref"])
        if detail:
            entries.append(
                {
                    "Source": "aws.codecommit",
                    "DetailType": "CodeCommit Repository State Change",
                    "Detail": json.dumps(detail),
                    "Resources": [metadata["Arn"]],
                    "EventBusName": "default",
                }
            )
    return entries


def register(cloud) -> None:
    @cloud.gateway.route("POST", hook.ROUTE)
    def pushed(call) -> Response:
        try:
            body = json.loads(call.raw or b"{}")
            region, name, updates = body["region"], body["repositoryName"], body["updates"]
        except (ValueError, KeyError) as error:
            raise validation_error(f"a push notice needs region, repositoryName and updates: {error}") from error
        names.REGION.check(region)
        with cloud.state.lock:
            repositories.existing_path(ACCOUNT_ID, region, name)
            metadata = repositories.backend(ACCOUNT_ID, region).get_repository(name)
            entries = entries_for(metadata, updates)
            if entries:
                events_backends[ACCOUNT_ID][region].put_events(entries)
                cloud.state.save_all_backends({"events", "sqs", "logs"})
        return Response(json.dumps({"events": len(entries)}), mimetype="application/json")
