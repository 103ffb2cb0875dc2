"""Subcommands of the ``localcloud`` CLI that act on what runs inside it, through the AWS APIs."""

from __future__ import annotations

from localcloud import DEFAULT_REGION
from localcloud.core import config
from localcloud.tools import daemon


def client(service: str):
    """A boto3 client for the running local cloud, or a clear error if it is not running."""
    current = daemon.status()
    if not current.running:
        raise RuntimeError("the local cloud is not running: start it with 'localcloud start'")
    return config.client(current.url, service, DEFAULT_REGION, current.state_dir)


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=False))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)
