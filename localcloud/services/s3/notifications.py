"""One completed multipart upload is one ``Object Created`` event, as on S3.

moto's CompleteMultipartUpload stores the object with its own PutObject, which sends an
``s3:ObjectCreated:Put`` event, and then sends ``s3:ObjectCreated:CompleteMultipartUpload`` too. boto3
uploads every file over 8 MB in parts, so each landed dataset reached EventBridge twice and the
data-arrival rule started ModelBuild twice: two trainings and two registered models for one upload.
Here the PutObject inside a completion sends nothing; the completion's own event is the one.
"""

from __future__ import annotations

import threading

from moto.s3.models import S3Backend

from localcloud.core import moto_seam as seam

_completing = threading.local()


def _marks_completion(original):
    def complete_multipart_upload(self, *args, **kwargs):
        _completing.active = True
        try:
            return original(self, *args, **kwargs)
        finally:
            _completing.active = False

    return complete_multipart_upload


def _quiet_inside_completion(original):
    def put_object(self, *args, **kwargs):
        if getattr(_completing, "active", False):
            kwargs["disable_notification"] = True
        return original(self, *args, **kwargs)

    return put_object


def install(cloud) -> None:  # noqa: ARG001 - patches moto's classes, which are per process
    seam.patch(
        S3Backend,
        "complete_multipart_upload",
        wrap=_marks_completion,
        why="the PutObject inside a completion is known as such (see put_object below)",
        until="moto's complete_multipart_upload passing disable_notification=True to its put_object",
    )
    seam.patch(
        S3Backend,
        "put_object",
        wrap=_quiet_inside_completion,
        why="a completed multipart upload sends one Object Created event, not a Put event as well",
        until="moto's complete_multipart_upload passing disable_notification=True to its put_object",
    )
