"""AWS-shaped errors that our handlers raise and the gateway renders."""

from __future__ import annotations


class AwsError(Exception):
    """An error the way AWS's JSON protocol reports it: a code, a message and an HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def validation_error(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFound", message)
