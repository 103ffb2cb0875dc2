"""The router: sends each request to our handlers or to moto, and snapshots what changed.

Every request that changes state (``durability.changes_state``) — moto's or one of our handlers',
however it was signed — is made durable here, by one snapshot before its response leaves.

JSON-protocol operations are routed by their ``X-Amz-Target`` (``SageMaker.StartPipelineExecution``);
REST operations that moto lacks (``POST /endpoints/<name>/invocations``) by method and path, and the
front door (``front_door.py``) serves those on kept-alive connections through ``claim`` and
``serve_claimed``. Anything not claimed goes to moto unchanged.
"""

from __future__ import annotations

import io
import json
import re
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from localcloud import ACCOUNT_ID
from localcloud.core import durability, signatures, upload_body
from localcloud.core.admission import Admission, Refused, refusal
from localcloud.core.errors import AwsError
from localcloud.core.moto_seam import s3_bodies
from localcloud.core.state import StateStore

MAX_S3_BODY = 5 * 1024**3  # S3's largest single PUT
MAX_API_BODY = 64 * 1024**2  # far above any other AWS API's request limit


@dataclass
class Call:
    """One parsed request, as handlers see it."""

    operation: str
    body: dict[str, Any]
    region: str
    account: str
    raw: bytes
    headers: dict[str, str]
    path: str = ""
    match: re.Match | None = None
    query: dict[str, list[str]] = field(default_factory=dict)


JsonHandler = Callable[[Call], dict[str, Any]]
RawHandler = Callable[[Call], Response]


class Gateway:
    """A WSGI app in front of moto's own app."""

    def __init__(self, moto_app: Callable, state: StateStore, admission: Admission | None = None):
        self.moto_app = moto_app
        self.state = state
        self.admission = admission  # set once the server knows its port; refuses everything until then
        self.json_handlers: dict[tuple[str, str], JsonHandler] = {}
        self.raw_handlers: list[tuple[str, re.Pattern, RawHandler]] = []
        self.query_handlers: dict[tuple[str, str], RawHandler] = {}

    # registration ------------------------------------------------------------------------
    # ``changes_state`` overrides what the operation's name (or a route's method) says; see durability.py.
    def json(
        self, target_prefix: str, operation: str, changes_state: bool | None = None
    ) -> Callable[[JsonHandler], JsonHandler]:
        def register(handler: JsonHandler) -> JsonHandler:
            self.json_handlers[(target_prefix, operation)] = self._durable(handler, "POST", operation, changes_state)
            return handler

        return register

    def query(self, service: str, action: str, changes_state: bool | None = None) -> Callable[[RawHandler], RawHandler]:
        """A query-protocol operation (``Action=...`` form bodies: IAM, CloudFormation, STS)."""

        def register(handler: RawHandler) -> RawHandler:
            self.query_handlers[(service, action)] = self._durable(handler, "POST", action, changes_state)
            return handler

        return register

    def route(self, method: str, pattern: str, changes_state: bool | None = None) -> Callable[[RawHandler], RawHandler]:
        def register(handler: RawHandler) -> RawHandler:
            self.raw_handlers.append((method, re.compile(pattern), self._durable(handler, method, None, changes_state)))
            return handler

        return register

    def _durable(self, handler: Callable, method: str, operation: str | None, declared: bool | None) -> Callable:
        """The handler, followed by a snapshot before its answer if the operation changes state."""
        if not durability.changes_state(method, operation, declared):
            return handler

        def durable(call: Call):
            try:
                return handler(call)
            finally:  # a failure may have changed something too: what is in moto is what is saved
                self.state.save_backends()

        return durable

    # dispatch ----------------------------------------------------------------------------
    def claim(self, method: str, path: str) -> tuple[RawHandler, re.Match] | None:
        """Our own REST route for this request, if any (the front door serves these itself)."""
        for route_method, pattern, handler in self.raw_handlers:
            if route_method == method:
                match = pattern.fullmatch(path)
                if match:
                    return handler, match
        return None

    def serve_claimed(
        self,
        claimed: tuple[RawHandler, re.Match],
        method: str,
        target: str,
        headers: dict[str, str],
        raw: bytes,
    ) -> Response:
        """Run a claimed route's handler for an admitted request; ``headers`` have lower-cased names."""
        handler, match = claimed
        try:
            admitted = self._admit(method, target, headers, raw)
        except Refused as refused:
            return refused.response
        path, _, query = target.partition("?")
        call = Call("", {}, admitted.region, ACCOUNT_ID, raw, headers, path, match, parse_qs(query) if query else {})
        return self._produce(partial(handler, call))

    def _admit(self, method: str, target: str, headers: dict[str, str], raw: bytes):
        if self.admission is None:
            raise Refused(Response("the local cloud is starting", status=503))
        return self.admission.check(method, target, headers, raw)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        request = Request(environ)
        headers = {k.lower(): v for k, v in request.headers.items()}
        request_target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.full_path.rstrip("?")
        path, _, query_string = request_target.partition("?")
        if upload_body.streams(request.method, path, query_string, headers) and (
            signatures.claimed_service(headers, query_string) == "s3"
        ):
            return self._streamed_upload(request, headers, request_target, environ, start_response)
        try:
            raw = self._body(request, headers, request_target)
            admitted = self._admit(request.method, request_target, headers, raw)
        except Refused as refused:
            return refused.response(environ, start_response)
        region = admitted.region
        service = admitted.signed.service if admitted.signed else None
        target = environ.get("HTTP_X_AMZ_TARGET", "")

        claimed = self.claim(request.method, request.path)
        if claimed:
            handler, match = claimed
            query = request.args.to_dict(flat=False)
            call = Call("", {}, region, ACCOUNT_ID, raw, headers, request.path, match, query)
            return self._produce(partial(handler, call))(environ, start_response)

        if "." in target:
            prefix, operation = target.split(".", 1)
            handler = self.json_handlers.get((prefix, operation))
            if handler:
                body = json.loads(raw or b"{}")
                call = Call(operation, body, region, ACCOUNT_ID, raw, headers, request.path)
                return self._produce(lambda: self._json_response(handler(call)))(environ, start_response)
        else:
            operation = None
            if request.mimetype == "application/x-www-form-urlencoded" and raw:
                form = parse_qs(raw.decode(errors="replace"))
                operation = (form.get("Action") or [None])[0]
                handler = self.query_handlers.get((service or "", operation or ""))
                if handler:
                    call = Call(
                        operation,
                        {k: v[0] for k, v in form.items()},
                        region,
                        ACCOUNT_ID,
                        raw,
                        headers,
                        request.path,
                        query=form,
                    )
                    return self._produce(partial(handler, call))(environ, start_response)
        if "." in target:
            operation = target.split(".", 1)[1]

        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        try:
            if not durability.changes_state(request.method, operation) or not service:
                return self.moto_app(environ, start_response)
            with self.state.lock:
                chunks = list(self.moto_app(environ, start_response))
                self.state.save_backends()  # before the response leaves: kill -9 loses nothing acknowledged
            return chunks
        except NotImplementedError as missing:
            # moto's Flask apps run in debug mode, so its NotImplementedError reaches us: answer in AWS's
            # shape with 501, which SDKs do not retry, instead of an HTML 500 they retry five times.
            name = f"{service} {operation}" if operation else f"{service} {request.method} {request.path}"
            message = f"The local cloud does not implement {name} ({missing}); moto lacks it."
            return refusal("not_implemented", message, request.method, request.full_path, headers, raw)(
                environ, start_response
            )
        except Exception as error:  # a bug in moto: say so in AWS's shape rather than an HTML page
            traceback.print_exc()
            message = f"local cloud error in {service} {operation or request.path}: {error!r}"
            return refusal("internal", message, request.method, request.full_path, headers, raw)(
                environ, start_response
            )

    def _streamed_upload(self, request: Request, headers, target: str, environ, start_response) -> Any:
        """PutObject / UploadPart: admitted on its signed headers, its body streamed to a body file and
        checked on the way (``upload_body``), then handed to moto as that file; refused, nothing is kept."""
        try:
            admitted = self._admit(request.method, target, headers, signatures.ON_THE_WIRE)
        except Refused as refused:
            return refused.response(environ, start_response)
        try:
            received = upload_body.receive(
                environ["wsgi.input"], s3_bodies.folder(), headers, admitted.signed, MAX_S3_BODY
            )
        except upload_body.BodyRefused as refused:
            return _s3_error(refused.code, refused.message, refused.status)(environ, start_response)
        staged = s3_bodies.staged(received.path, received.size, received.md5, received.checksums)
        environ.update(
            {
                "wsgi.input": io.BytesIO(b""),
                "CONTENT_LENGTH": "0",
                "HTTP_X_AMZ_CONTENT_SHA256": "UNSIGNED-PAYLOAD",  # checked: moto is not to decode it again
                s3_bodies.STAGED_ENVIRON_KEY: staged,
            }
        )
        for name, value in received.headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        try:
            with self.state.lock:
                chunks = list(self.moto_app(environ, start_response))
                if staged.claimed:
                    self.state.save_backends()  # before the response leaves: kill -9 loses nothing acknowledged
            return chunks
        except Exception as error:
            traceback.print_exc()
            message = f"local cloud error in s3 {request.method} {request.path}: {error!r}"
            return refusal("internal", message, request.method, target, headers, b"")(environ, start_response)
        finally:
            if not staged.claimed:  # refused by moto (no such bucket or upload...): nothing is kept
                received.path.unlink(missing_ok=True)

    @staticmethod
    def _body(request: Request, headers: dict[str, str], target: str) -> bytes:
        """The request body, refused with 413 past the largest body AWS itself would take."""
        s3 = signatures.claimed_service(headers, target.partition("?")[2]) == "s3"
        limit = MAX_S3_BODY if s3 else MAX_API_BODY
        request.max_content_length = limit
        try:
            return request.get_data(cache=True)
        except RequestEntityTooLarge:
            message = f"Your proposed upload exceeds the maximum allowed size of {limit} bytes"
            raise Refused(refusal("too_large", message, request.method, target, headers, b"")) from None

    @staticmethod
    def _json_response(result: dict[str, Any]) -> Response:
        return Response(json.dumps(result, default=str), mimetype="application/x-amz-json-1.1")

    @staticmethod
    def _produce(produce: Callable[[], Response]) -> Response:
        """The handler's response, or its error in AWS's shape."""
        try:
            response = produce()
        except AwsError as error:
            response = Response(
                json.dumps({"__type": error.code, "message": error.message, "Message": error.message}),
                status=error.status,
                mimetype="application/x-amz-json-1.1",
                headers={"x-amzn-ErrorType": error.code},
            )
        except Exception as error:  # a bug of ours: say so in AWS's shape rather than hang up
            traceback.print_exc()
            response = Response(
                json.dumps({"__type": "InternalFailure", "message": f"local cloud error: {error!r}"}),
                status=500,
                mimetype="application/x-amz-json-1.1",
            )
        return response


def _s3_error(code: str, message: str, status: int) -> Response:
    request_id = str(uuid.uuid4())
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{escape(message)}</Message>'
        f"<RequestId>{request_id}</RequestId></Error>"
    )
    return Response(xml, status=status, mimetype="application/xml", headers={"x-amz-request-id": request_id})
