"""Import moto's CloudFormation models, and the EC2 models they pull in, without redundant work.

Written against moto 5.2.5: while ``moto.ec2.models.availability_zones_and_regions`` is imported it
calls ``boto3.Session()`` three times to list regions, and every new session parses botocore's
endpoint data again. That is about 0.45 s of the local cloud's start. For the length of this import
one session stands in for argument-less ``Session()`` calls; before and after, every call gets a new
session as usual.
"""

from __future__ import annotations

import sys
import threading

import boto3

_LOCK = threading.Lock()


def import_cloudformation_models() -> None:
    with _LOCK:
        if "moto.cloudformation.models" in sys.modules:
            return  # imported already (another local cloud in this process, or a test)
        real = boto3.Session
        shared: boto3.Session | None = real()

        def session(*args, **kwargs):
            # modules imported meanwhile keep this function: afterwards it makes new sessions again
            if shared is not None and not (args or kwargs):
                return shared
            return real(*args, **kwargs)

        boto3.Session = session
        try:
            import moto.cloudformation.models  # noqa: F401 - imported for its side effect of loading
        finally:
            shared = None
            boto3.Session = real
