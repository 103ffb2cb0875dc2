"""``localcloud endpoints``: list endpoints, invoke one, watch one deploy."""

from __future__ import annotations

import sys
from pathlib import Path

from localcloud.tools.commands import client, endpoint_watch, table


def list_endpoints(args) -> int:  # noqa: ARG001
    endpoints = client("sagemaker").list_endpoints()["Endpoints"]
    rows = [[e["EndpointName"], e["EndpointStatus"], e["LastModifiedTime"].strftime("%H:%M:%S")] for e in endpoints]
    print(table(rows, ["endpoint", "status", "modified"]) if rows else "no endpoints")
    return 0


def invoke(args) -> int:
    body = Path(args.file).read_bytes() if args.file else args.body.encode()
    response = client("sagemaker-runtime").invoke_endpoint(
        EndpointName=args.name, Body=body, ContentType=args.content_type, Accept="application/json"
    )
    sys.stdout.write(response["Body"].read().decode() + "\n")
    return 0


def add_parser(commands) -> None:
    endpoints = commands.add_parser("endpoints", help="SageMaker endpoints")
    sub = endpoints.add_subparsers(dest="endpoints_command", required=True)
    sub.add_parser("list", help="endpoints and their status").set_defaults(run=list_endpoints)
    command = sub.add_parser("invoke", help="send a request to an endpoint and print the answer")
    command.add_argument("name")
    source = command.add_mutually_exclusive_group(required=True)
    source.add_argument("--body", help="the request body, e.g. one CSV row of feature values")
    source.add_argument("--file", help="read the request body from this file")
    command.add_argument("--content-type", default="text/csv")
    command.set_defaults(run=invoke)
    endpoint_watch.add_parser(sub)
