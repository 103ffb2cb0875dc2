"""An offline AWS for the template: moto keeps the state, our modules add what moto lacks.

Every module here was written against moto ``MOTO_VERSION``; pyproject pins exactly that version
because several modules reach into moto's backends.
"""

from pathlib import Path

MOTO_VERSION = "5.2.5"
PACKAGE_DIR = Path(__file__).resolve().parent  # what sandboxed programs of ours import from
REPO_ROOT = PACKAGE_DIR.parent
ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
