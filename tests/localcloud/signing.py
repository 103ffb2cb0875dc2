"""Raw HTTP requests signed as an SDK would sign them, for tests that speak HTTP by hand."""

from __future__ import annotations

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def signed_headers(cloud, method: str, path: str, body: bytes = b"", headers: dict | None = None, service="s3"):
    """The headers (Host included) that make ``method path`` a request signed with the cloud's key."""
    host = f"127.0.0.1:{cloud.port}"
    request = AWSRequest(method=method, url=f"http://{host}{path}", data=body, headers=dict(headers or {}))
    root = cloud.credentials.root
    signer = S3SigV4Auth if service == "s3" else SigV4Auth  # S3 signs with x-amz-content-sha256
    signer(Credentials(root.access_key_id, root.secret_access_key), service, "us-east-1").add_auth(request)
    return {"Host": host, **dict(request.headers.items())}
