"""The local cloud's server: moto's app behind our gateway, on 127.0.0.1 only.

``python -m localcloud.core.server`` runs it in the foreground; the CLI starts it in the background.
Service modules plug in through ``install(cloud)``: they register handlers and restart what was
running (pipeline executions, endpoints) from the state folder.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.wrappers import Response

from localcloud import DEFAULT_REGION
from localcloud.core import clock, config, moto_seam
from localcloud.core.admission import Admission, allowed_origins
from localcloud.core.credentials import CredentialStore
from localcloud.core.front_door import FrontDoorServer
from localcloud.core.gateway import Gateway
from localcloud.core.moto_seam import dispatch, pickling, s3_bodies, s3_keys, safe_yaml
from localcloud.core.state import StateFormatError, StateStore


class LocalCloud:
    """One running local cloud: its state, its gateway and its HTTP server."""

    def __init__(self, state_dir: Path | None = None, port: int = 0, host: str = "127.0.0.1"):
        moto_seam.check_version()
        clock.time_scale()  # a bad LOCALCLOUD_TIME_SCALE stops the start with what to set
        self.state = StateStore(state_dir or config.state_dir())
        self.credentials = CredentialStore(self.state.root)
        self.gateway = Gateway(DomainDispatcherApplication(create_backend_app), self.state)
        self._server = FrontDoorServer(host, port, self.gateway)
        self.host, self.port = self._server.server_address[:2]
        self.gateway.admission = Admission(self.credentials, allowed_origins(self.port))
        self.gateway.route("GET", "/_localcloud/health")(self._health)
        self._thread: threading.Thread | None = None
        self.services: list = []  # every installed service object, in install order
        self.stopping = threading.Event()
        self._clients: dict[tuple[str, str], object] = {}
        self._clients_lock = threading.Lock()
        self._session: boto3.session.Session | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client_environment(self) -> dict[str, str]:
        """What a client on the host needs: the URL and the state folder's own key."""
        return config.client_environment(self.url, credential=self.credentials.root)

    def session_environment(self) -> dict[str, str]:
        """What a sandboxed program gets: a session of its own, as an execution role's would be on AWS.
        ``end_session`` once the program stopped."""
        return config.client_environment(self.url, credential=self.credentials.issue())

    def end_session(self, environment: dict[str, str]) -> None:
        """The program given ``environment`` stopped: its session's key no longer signs anything."""
        self.credentials.end(environment["AWS_ACCESS_KEY_ID"])

    @contextmanager
    def session(self) -> Iterator[dict[str, str]]:
        """A session for one run of a sandboxed program, ended when the run ends, however it ends."""
        environment = self.session_environment()
        try:
            yield environment
        finally:
            self.end_session(environment)

    def _health(self, call) -> Response:  # noqa: ARG002 - a route handler's signature
        """Unsigned on purpose (the start probe has no key yet): it says only that the server is up."""
        return Response(b'{"status": "up"}', mimetype="application/json")

    def client(self, service: str, region: str = DEFAULT_REGION):
        """A boto3 client for our own API: internal work goes through the same front door as users.

        Clients are thread-safe once made, so one per service and region is shared. They come from
        one session (sessions are not thread-safe: the lock guards it), which reads botocore's data
        files once instead of once per client.
        """
        with self._clients_lock:
            key = (service, region)
            if key not in self._clients:
                if self._session is None:
                    root = self.credentials.root
                    self._session = boto3.session.Session(
                        aws_access_key_id=root.access_key_id, aws_secret_access_key=root.secret_access_key
                    )
                self._clients[key] = self._session.client(service, region_name=region, endpoint_url=self.url)
            return self._clients[key]

    def register(self, service: object) -> object:
        """Keep a service object for ``service()`` lookups (install_all registers what installs return)."""
        if service not in self.services:
            self.services.append(service)
        return service

    def service(self, kind: type):
        """This cloud's instance of a service class: how patched moto methods reach the service they serve."""
        for service in self.services:
            if isinstance(service, kind):
                return service
        raise LookupError(f"{kind.__name__} is not installed in this local cloud")

    def start(self) -> LocalCloud:
        from localcloud.core.moto_seam.preload import import_cloudformation_models
        from localcloud.core.registry import install_all

        import_cloudformation_models()  # restoring the state needs them; this imports them faster
        safe_yaml.install()  # before any template is parsed
        dispatch.install()
        pickling.install()  # before the state is restored
        s3_bodies.install()
        s3_keys.install()  # before the state is restored: restored keys report their changes
        self.state.restore_backends()
        moto_seam.bind(self)
        install_all(self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="localcloud-http", daemon=True)
        self._thread.start()
        for service in self.services:
            resume = getattr(service, "resume", None)
            if resume:
                resume()
        return self

    def stop(self) -> None:
        self.stopping.set()
        for service in reversed(self.services):
            shutdown = getattr(service, "shutdown", None)
            if shutdown:
                shutdown()
        self._server.shutdown()
        if self._thread:
            self._thread.join(timeout=5)
        self._server.server_close()
        self.state.close()
        moto_seam.unbind(self)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the local cloud in the foreground.")
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--port", type=int, default=config.port())
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        cloud = LocalCloud(args.state_dir, args.port).start()
    except (StateFormatError, moto_seam.MotoVersionError, clock.TimeScaleError) as error:
        raise SystemExit(f"local cloud not started: {error}") from None
    print(f"local cloud listening on {cloud.url} (state in {cloud.state.root})", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    cloud.stop()


if __name__ == "__main__":
    main()
