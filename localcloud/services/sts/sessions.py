"""STS credentials that work: what AssumeRole and GetSessionToken hand out is accepted when signed with.

moto makes a random key for each assumed role, which the local cloud would refuse as unknown, and
answers GetSessionToken with AWS's documentation example key, which must never be accepted (anyone
knows its secret). So assumed roles' keys are registered as sessions when moto makes them, and
GetSessionToken / GetFederationToken are answered with a session of our own.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC
from xml.sax.saxutils import escape

from moto.sts.models import STSBackend
from werkzeug.wrappers import Response

from localcloud.core import moto_seam as seam
from localcloud.core.credentials import Credential

DEFAULT_SECONDS = {"GetSessionToken": 12 * 3600, "GetFederationToken": 12 * 3600}


def _register_assumed_roles() -> None:
    """Wrap moto's role assumptions so the key each one makes is a session of the local cloud."""
    for name in ("assume_role", "assume_role_with_web_identity", "assume_role_with_saml"):

        def wrap(original):
            def assume(self, *args, **kwargs):
                role = original(self, *args, **kwargs)
                cloud = seam.bound()
                if cloud is not None:
                    credential = Credential(
                        role.access_key_id, role.secret_access_key, role.session_token, _expiry(role)
                    )
                    cloud.credentials.add(credential)
                return role

            return assume

        seam.patch(
            STSBackend,
            name,
            wrap=wrap,
            why="an assumed role's key signs requests the local cloud accepts",
            until="moto exposing the credentials it issues to whoever verifies signatures",
        )


def _token_response(action: str, credential: Credential) -> Response:
    expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(credential.expires))
    user = ""
    if action == "GetFederationToken":
        user = "<FederatedUser><FederatedUserId>123456789012:localcloud</FederatedUserId></FederatedUser>"
    xml = (
        f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><{action}Result><Credentials>'
        f"<AccessKeyId>{credential.access_key_id}</AccessKeyId>"
        f"<SecretAccessKey>{escape(credential.secret_access_key)}</SecretAccessKey>"
        f"<SessionToken>{escape(credential.session_token or '')}</SessionToken>"
        f"<Expiration>{expiration}</Expiration></Credentials>{user}</{action}Result>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></{action}Response>"
    )
    return Response(xml, mimetype="text/xml")


def _known_assumed_roles(store) -> None:
    """Roles assumed before a restart (moto's state is restored) keep working until they expire."""
    from moto.sts.models import sts_backends

    for account in list(sts_backends):
        for backend in sts_backends[account].values():
            for role in getattr(backend, "assumed_roles", []):
                store.add(Credential(role.access_key_id, role.secret_access_key, role.session_token, _expiry(role)))


def _expiry(role) -> float:
    return role.expiration.replace(tzinfo=role.expiration.tzinfo or UTC).timestamp()


def install(cloud) -> None:
    _register_assumed_roles()
    _known_assumed_roles(cloud.credentials)
    for action, default in DEFAULT_SECONDS.items():

        def answer(call, _action=action, _default=default) -> Response:
            seconds = int(call.body.get("DurationSeconds") or _default)
            return _token_response(_action, cloud.credentials.issue(seconds))

        cloud.gateway.query("sts", action)(answer)
