"""Where the local cloud keeps its state and which port it listens on, from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from localcloud import REPO_ROOT
from localcloud.core import credentials
from localcloud.core.credentials import Credential

DEFAULT_PORT = 4590


def state_dir() -> Path:
    """One folder holds everything; ``LOCALCLOUD_STATE_DIR`` moves it."""
    return Path(os.environ.get("LOCALCLOUD_STATE_DIR", REPO_ROOT / ".localcloud")).resolve()


def port() -> int:
    return int(os.environ.get("LOCALCLOUD_PORT", DEFAULT_PORT))


def client(url: str, service: str, region: str = "us-east-1", state: Path | None = None):
    """A boto3 client for the local cloud at ``url``, whatever the caller's own environment says."""
    import boto3

    env = client_environment(url, region, state)
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def client_environment(
    url: str, region: str = "us-east-1", state: Path | None = None, credential: Credential | None = None
) -> dict[str, str]:
    """What any AWS client needs to talk to the local cloud instead of AWS: its URL, and the
    credentials of its state folder (``state``, default ``state_dir()``) unless ``credential`` is given."""
    credential = credential or credentials.read(state or state_dir())
    return {
        "AWS_ENDPOINT_URL": url,
        **credential.environment(),
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "SAGEMAKER_VALIDATE_ROLE": "false",
    }
