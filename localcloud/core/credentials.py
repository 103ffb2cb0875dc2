"""The local cloud's credentials: one long-term key per state folder, and sessions it issues.

The long-term key is generated the first time a state folder is used and kept in a file only its
owner can read (``credentials.json``, mode 0600), so a web page or another local user who can
reach the port cannot sign requests. Sandboxed programs (jobs, builds, custom-resource handlers,
model servers) get a temporary credential instead, as an execution role's session would be on AWS:
an access key id starting ``ASIA``, a secret and a session token that must travel together.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

FILE_NAME = "credentials.json"
SESSION_SECONDS = 12 * 3600  # the longest session an IAM role allows
FORGET_AFTER_SECONDS = 3600  # an ended session is told apart from an unknown key for this long
_KEY_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    expires: float | None = None  # epoch seconds; None for the long-term key

    def environment(self) -> dict[str, str]:
        env = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env


def _key_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))


def _secret() -> str:
    return secrets.token_urlsafe(30)[:40]


def credentials_file(state_dir: Path) -> Path:
    return Path(state_dir) / FILE_NAME


def load_or_create(state_dir: Path) -> Credential:
    """The state folder's long-term key, made (0600, atomically) if it has none yet."""
    path = credentials_file(state_dir)
    try:
        saved = json.loads(path.read_text())
        return Credential(saved["AccessKeyId"], saved["SecretAccessKey"])
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    made = Credential(_key_id("LKIA"), _secret())
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"AccessKeyId": made.access_key_id, "SecretAccessKey": made.secret_access_key}, handle)
    try:
        os.link(tmp, path)  # never replaces a key another process made meanwhile
    except FileExistsError:
        tmp.unlink()
        return load_or_create(state_dir)
    tmp.unlink()
    return made


def read(state_dir: Path) -> Credential:
    """The long-term key of a state folder that a local cloud has already used (for clients)."""
    path = credentials_file(state_dir)
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no local cloud credentials in {path}: start the local cloud for this state folder first "
            "('localcloud start'), or point LOCALCLOUD_STATE_DIR at the folder it runs with"
        ) from None
    return Credential(saved["AccessKeyId"], saved["SecretAccessKey"])


class CredentialStore:
    """Who may sign requests: the long-term key and the sessions issued since the start.

    Sessions live in memory only: every sandboxed program dies with the local cloud, and what
    resumes after a restart is started again with a fresh session.
    """

    def __init__(self, state_dir: Path):
        self.root = load_or_create(state_dir)
        self._sessions: dict[str, Credential] = {}
        self._lock = threading.Lock()

    def issue(self, seconds: float = SESSION_SECONDS) -> Credential:
        now = time.time()
        session = Credential(_key_id("ASIA"), _secret(), secrets.token_urlsafe(96), now + seconds)
        with self._lock:
            for key, old in list(self._sessions.items()):  # long over: forgotten (then an unknown key)
                if old.expires is not None and old.expires < now - FORGET_AFTER_SECONDS:
                    del self._sessions[key]
            self._sessions[session.access_key_id] = session
        return session

    def add(self, credential: Credential) -> None:
        """Accept a session made elsewhere (an assumed role's key, made by moto's STS)."""
        with self._lock:
            self._sessions[credential.access_key_id] = credential

    def end(self, access_key_id: str) -> None:
        """The program a session was issued to has stopped: its key expires now, as a role session's
        does on AWS when it runs out (requests signed with it get ``ExpiredToken``)."""
        with self._lock:
            session = self._sessions.get(access_key_id)
            if session is not None and session.session_token:
                self._sessions[access_key_id] = replace(session, expires=min(session.expires or 0, time.time()))

    def find(self, access_key_id: str) -> Credential | None:
        if access_key_id == self.root.access_key_id:
            return self.root
        return self._sessions.get(access_key_id)
