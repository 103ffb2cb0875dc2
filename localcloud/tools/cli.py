"""``localcloud``: the command line of the local cloud."""

from __future__ import annotations

import argparse
import sys
import time

from botocore.exceptions import ClientError

from localcloud.core import config
from localcloud.tools import daemon
from localcloud.tools.commands import endpoints, images, pipelines, projects, registry


def cmd_start(args) -> int:
    began = time.monotonic()
    found = daemon.status()
    current = daemon.start(port=args.port)
    verb = "already running" if found.running else f"started in {time.monotonic() - began:.1f} s"
    print(f"local cloud {verb} at {current.url} (state in {current.state_dir})")
    print("point any AWS client at it with:")
    for key, value in config.client_environment(current.url, state=current.state_dir).items():
        print(f"  export {key}={value}")
    return 0


def cmd_stop(args) -> int:  # noqa: ARG001
    print("local cloud stopped" if daemon.stop() else "local cloud was not running")
    return 0


def cmd_status(args) -> int:  # noqa: ARG001
    current = daemon.status()
    if not current.running:
        print(f"local cloud is not running (state in {current.state_dir})")
        return 3
    print(f"local cloud is running at {current.url}, pid {current.pid} (state in {current.state_dir})")
    return 0


def cmd_env(args) -> int:  # noqa: ARG001
    current = daemon.status()
    if not current.running:
        print("local cloud is not running: start it with 'localcloud start'", file=sys.stderr)
        return 3
    for key, value in config.client_environment(current.url, state=current.state_dir).items():
        print(f"export {key}={value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="localcloud", description="An offline AWS for the MLOps template.")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start the local cloud in the background")
    start.add_argument("--port", type=int, default=None, help=f"default {config.DEFAULT_PORT} or $LOCALCLOUD_PORT")
    start.set_defaults(run=cmd_start)
    commands.add_parser("stop", help="stop it; its state stays").set_defaults(run=cmd_stop)
    commands.add_parser("status", help="is it running, and where").set_defaults(run=cmd_status)
    commands.add_parser("env", help="print the environment that points AWS clients at it").set_defaults(run=cmd_env)
    for module in (projects, registry, pipelines, endpoints, images):
        module.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except RuntimeError as error:  # LifecycleError included: it names the failed stage
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ClientError as error:
        print(f"error: {error.response['Error'].get('Message') or error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
