"""Who may talk to the local cloud: checked before anything is dispatched.

Two doors are shut here. A web page the user happens to open can reach 127.0.0.1, so a request
that a browser marks with a foreign ``Origin`` (or ``Referer``) is refused, and its CORS preflight
gets no allow headers. Anything else must be signed (SigV4, header or presigned query) with the
state folder's own key or a session the local cloud issued. Refusals are in the error shape of the
protocol the caller speaks, so SDKs raise them as the AWS errors they know.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

from localcloud.core import signatures
from localcloud.core.credentials import CredentialStore

ALLOWED_ORIGINS_VARIABLE = "LOCALCLOUD_ALLOWED_ORIGINS"
UNSIGNED_ROUTES = frozenset({("GET", "/_localcloud/health")})  # says only "I am up"
MANAGEMENT_PREFIX = "/moto-api"
FIX = 'Sign requests with the local cloud\'s credentials: eval "$(localcloud env)" sets them for any AWS client.'

# kind -> (JSON protocol code, query protocol code, S3 code, HTTP status)
_CODES = {
    "missing": ("MissingAuthenticationTokenException", "MissingAuthenticationToken", "AccessDenied", 403),
    "malformed": ("IncompleteSignatureException", "IncompleteSignature", "AuthorizationHeaderMalformed", 400),
    "unknown_key": ("UnrecognizedClientException", "InvalidClientTokenId", "InvalidAccessKeyId", 403),
    "bad_token": ("UnrecognizedClientException", "InvalidClientTokenId", "InvalidToken", 403),
    "mismatch": ("InvalidSignatureException", "SignatureDoesNotMatch", "SignatureDoesNotMatch", 403),
    "expired": ("InvalidSignatureException", "SignatureDoesNotMatch", "AccessDenied", 403),
    "expired_token": ("ExpiredTokenException", "ExpiredToken", "ExpiredToken", 400),
    "payload": ("InvalidSignatureException", "SignatureDoesNotMatch", "XAmzContentSHA256Mismatch", 400),
    "origin": ("AccessDeniedException", "AccessDenied", "AccessDenied", 403),
    "management": ("AccessDeniedException", "AccessDenied", "AccessDenied", 403),
    "not_implemented": ("NotImplementedException", "NotImplemented", "NotImplemented", 501),
    "internal": ("InternalFailure", "InternalFailure", "InternalError", 500),
    "too_large": ("RequestEntityTooLargeException", "RequestEntityTooLarge", "EntityTooLarge", 413),
}


@dataclass(frozen=True)
class Admitted:
    """A request that may go on, with the region it was signed for."""

    region: str
    signed: signatures.Signed | None


def allowed_origins(port: int, extra: str | None = None) -> frozenset[str]:
    """The local cloud's own origins, plus those listed (comma-separated) in LOCALCLOUD_ALLOWED_ORIGINS."""
    own = {f"http://127.0.0.1:{port}", f"http://localhost:{port}"}
    listed = os.environ.get(ALLOWED_ORIGINS_VARIABLE, "") if extra is None else extra
    return frozenset(own | {item.strip().rstrip("/") for item in listed.split(",") if item.strip()})


def _origin_of(headers: Mapping[str, str]) -> str | None:
    origin = headers.get("origin")
    if origin:
        return origin.rstrip("/")
    referer = headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme else referer
    return None


class Refused(Exception):
    """The request is not let in; ``response`` says why in the caller's protocol."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


class Admission:
    def __init__(self, credentials: CredentialStore, origins: Iterable[str]):
        self.credentials = credentials
        self.origins = frozenset(origins)

    def check(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Admitted:
        """Admit the request or raise ``Refused``; ``headers`` have lower-cased names."""
        origin = _origin_of(headers)
        if origin is not None and origin not in self.origins:
            if method == "OPTIONS":
                raise Refused(Response(status=403))  # a preflight without allow headers: the browser stops
            raise Refused(
                refusal(
                    "origin",
                    f"Requests from the browser origin {origin!r} are refused. To allow a web app to call the "
                    f"local cloud, add its origin to {ALLOWED_ORIGINS_VARIABLE} (comma-separated).",
                    method,
                    target,
                    headers,
                    body,
                )
            )
        path, _, query = target.partition("?")
        if method == "OPTIONS" and origin is not None and "access-control-request-method" in headers:
            raise Refused(_preflight(origin, headers))
        if path.startswith(MANAGEMENT_PREFIX):
            message = "moto's management API is not served by the local cloud"
            raise Refused(refusal("management", message, method, target, headers, body))
        if (method, path) in UNSIGNED_ROUTES:
            return Admitted("us-east-1", None)
        try:
            signed = signatures.verify(method, target, headers, body, self.credentials.find)
        except signatures.SignatureError as error:
            message = error.message
            if error.kind in ("missing", "unknown_key"):
                message = f"{message.rstrip('.')}. {FIX}"
            raise Refused(refusal(error.kind, message, method, target, headers, body)) from None
        return Admitted(signed.region, signed)


def _preflight(origin: str, headers: Mapping[str, str]) -> Response:
    return Response(
        status=200,
        headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "GET, PUT, POST, DELETE, HEAD, PATCH",
            "Access-Control-Allow-Headers": headers.get("access-control-request-headers", "*"),
            "Access-Control-Expose-Headers": "ETag, x-amz-request-id, x-amzn-RequestId, x-amz-version-id",
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        },
    )


def _protocol(target: str, headers: Mapping[str, str], body: bytes) -> str:
    """Which error shape the caller reads: 'json', 'query', 'rest-json' or 's3'."""
    if headers.get("x-amz-target"):
        return "json"
    service = signatures.claimed_service(headers, target.partition("?")[2])
    if service == "s3":
        return "s3"
    content_type = headers.get("content-type", "")
    form = content_type.startswith("application/x-www-form-urlencoded") and b"Action=" in body
    if form or "Action=" in target:
        return "query"
    if service or "json" in content_type or target.startswith("/endpoints/"):
        return "rest-json"
    return "s3"


def refusal(kind: str, message: str, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
    json_code, query_code, s3_code, status = _CODES[kind]
    request_id = str(uuid.uuid4())
    protocol = _protocol(target, headers, body)
    common = {"x-amzn-RequestId": request_id, "x-amz-request-id": request_id}
    if protocol == "json":
        return Response(
            json.dumps({"__type": json_code, "message": message}),
            status=status,
            mimetype="application/x-amz-json-1.1",
            headers={**common, "x-amzn-ErrorType": json_code},
        )
    if protocol == "rest-json":
        return Response(
            json.dumps({"message": message}),
            status=status,
            mimetype="application/json",
            headers={**common, "x-amzn-ErrorType": json_code},
        )
    if protocol == "query":
        xml = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{query_code}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return Response(xml, status=status, mimetype="text/xml", headers=common)
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{s3_code}</Code><Message>{escape(message)}</Message>'
        f"<RequestId>{request_id}</RequestId></Error>"
    )
    return Response(xml if method != "HEAD" else b"", status=status, mimetype="application/xml", headers=common)
