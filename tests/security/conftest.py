"""The security suite drives attacks through the real HTTP API and real jobs of a running local cloud."""

from __future__ import annotations

from tests.localcloud.conftest import aws, cloud, fresh_boto3_session  # noqa: F401 - shared fixtures
