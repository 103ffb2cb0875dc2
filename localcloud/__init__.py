"""An offline AWS for the template: moto keeps the state, our modules add what moto lacks.

Every module here was written against moto ``MOTO_VERSION``; pyproject pins exactly that version
because several modules reach into moto's backends.
"""

MOTO_VERSION = "5.2.5"
ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
