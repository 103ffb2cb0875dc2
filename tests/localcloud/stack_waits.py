"""Following a stack operation to its end, as CloudFormation's clients do (operations run in the background)."""

from __future__ import annotations

import time

from botocore.exceptions import ClientError


def settled_stack(cloudformation, name: str, timeout: float = 180.0) -> dict | None:
    """The stack once no operation is in progress on it; None once a stack asked for by name is gone."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError as error:
            if "does not exist" in str(error):
                return None
            raise
        if not found["StackStatus"].endswith("_IN_PROGRESS"):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"stack {name} still {found['StackStatus']} after {timeout:.0f} s")
        time.sleep(0.05)
