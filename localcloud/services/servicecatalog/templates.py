"""Fetch a provisioning artifact's template from the local S3, whatever URL style it was given in."""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from localcloud.core.errors import AwsError


def split_template_url(url: str) -> tuple[str, str]:
    """Bucket and key of ``s3://b/k``, ``https://s3[.<region>].amazonaws.com/b/k`` or ``https://b.s3...amazonaws.com/k``."""
    parsed = urlparse(url)
    path = unquote(parsed.path.lstrip("/"))
    host = parsed.netloc.split(":")[0]
    if parsed.scheme == "s3":
        bucket, key = host, path
    elif host.startswith("s3.") or host.startswith("s3-") or host in ("localhost", "127.0.0.1"):
        bucket, _, key = path.partition("/")
    elif ".s3" in host:
        bucket, key = host.split(".s3", 1)[0], path
    else:
        bucket, key = "", ""
    if not bucket or not key:
        raise AwsError(
            "InvalidParametersException",
            f"template URL {url!r} is not an S3 object URL (https://s3.<region>.amazonaws.com/<bucket>/<key>)",
        )
    return bucket, key


def fetch(s3_client, url: str) -> str:
    bucket, key = split_template_url(url)
    try:
        return s3_client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except Exception as error:
        raise AwsError(
            "InvalidParametersException",
            f"the product template s3://{bucket}/{key} cannot be read ({error}): "
            "publish the template (python -m localcloud.tools.publish) before provisioning",
        ) from error
