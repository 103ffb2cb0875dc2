"""S3's EventBridge events as S3 sends them: one ``Object Created`` per object written, and ``Object
Tags Added`` only for PutObjectTagging.

moto's CompleteMultipartUpload stores the object with its own PutObject, which sends an
``s3:ObjectCreated:Put`` event, and then sends ``s3:ObjectCreated:CompleteMultipartUpload`` too. boto3
uploads every file over 8 MB in parts, so each landed dataset reached EventBridge twice and the
data-arrival rule started ModelBuild twice: two trainings and two registered models for one upload.
Here the PutObject inside a completion sends nothing; the completion's own event is the one.

moto also sets every written object's tags with the backend call PutObjectTagging uses, which sends
``Object Tags Added``: each PutObject and CopyObject reached EventBridge as a tagging too. Here that
event is sent only while a PutObjectTagging request is answered.
"""

from __future__ import annotations

import threading

from moto.s3 import notifications
from moto.s3.models import S3Backend
from moto.s3.responses import S3Response

from localcloud.core import moto_seam as seam

_completing = threading.local()
_tagging_request = threading.local()


def _marking(flag: threading.local):
    """A wrapper that sets ``flag.active`` while the wrapped method runs on this thread."""

    def wrap(original):
        def marked(self, *args, **kwargs):
            flag.active = True
            try:
                return original(self, *args, **kwargs)
            finally:
                flag.active = False

        return marked

    return wrap


def _quiet_inside_completion(original):
    def put_object(self, *args, **kwargs):
        if getattr(_completing, "active", False):
            kwargs["disable_notification"] = True
        return original(self, *args, **kwargs)

    return put_object


def _tags_added_only_for_tagging_requests(original):
    def send_event(account_id, event_name, bucket, key):
        if event_name == notifications.S3NotificationEvent.OBJECT_TAGGING_PUT_EVENT and not getattr(
            _tagging_request, "active", False
        ):
            return None  # a PutObject or CopyObject storing the object's tags: its Object Created says it
        return original(account_id, event_name, bucket, key)

    return send_event


def install(cloud) -> None:  # noqa: ARG001 - patches moto's classes, which are per process
    seam.patch(
        S3Backend,
        "complete_multipart_upload",
        wrap=_marking(_completing),
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
    seam.patch(
        S3Response,
        "put_object_tagging",
        wrap=_marking(_tagging_request),
        why="a PutObjectTagging request is known as such (see s3.notifications.send_event)",
        until="moto's PutObject and CopyObject not sending Object Tags Added events",
    )
    seam.patch(
        notifications,
        "send_event",
        wrap=_tags_added_only_for_tagging_requests,
        why="Object Tags Added is sent for PutObjectTagging only, not for every PutObject and CopyObject",
        until="moto's PutObject and CopyObject not sending Object Tags Added events",
    )
