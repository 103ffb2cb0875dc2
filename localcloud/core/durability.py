"""Which requests change state, decided in one place: the gateway makes each of them durable
(a snapshot of moto's backends) before its success response leaves.

AWS's own naming says which operations only read: ``Describe*``, ``List*``, ``Get*`` and the
like for the JSON and query protocols, ``GET``/``HEAD`` for REST. Everything else — moto's
operations and ours, signed in a header or presigned — is a change, snapshotted however it was
authenticated. An operation that breaks the naming rule says so where it is registered
(``Gateway.json(..., changes_state=...)``): InvokeEndpoint, a POST that changes nothing, is one.
"""

from __future__ import annotations

READ_VERBS = ("Describe", "List", "Get", "Search", "BatchGet", "BatchDescribe", "Head", "Query", "Scan")
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def changes_state(method: str, operation: str | None, declared: bool | None = None) -> bool:
    """Does this request change state (so it must be durable before its answer)?"""
    if declared is not None:
        return declared
    if operation:
        return not operation.startswith(READ_VERBS)
    return method not in READ_METHODS
