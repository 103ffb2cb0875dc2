"""The ``post-receive`` hook installed in every repository: a push becomes a CodeCommit event.

git runs the hook inside the bare repository after the refs are updated. The hook reads where the
local cloud listens from ``<state root>/codecommit/endpoint`` (rewritten on every start, so a
restart on another port keeps working) and posts the updated refs to it, signed with the state
folder's key (``<state root>/credentials.json``, readable by whoever may push), as every request
to the local cloud must be. It never fails the push:
if the local cloud is down, the push is kept and the hook prints a warning that no event was sent
(CodeCommit would have sent one; start the local cloud and push again, or start the pipeline by hand).
"""

from __future__ import annotations

import sys

from localcloud.core.credentials import FILE_NAME

ROUTE = "/_localcloud/codecommit/push"
ENDPOINT_FILE = "endpoint"

_BODY = '''
"""post-receive: tell the local cloud which refs this push changed (it emits the CodeCommit event)."""
import json
import pathlib
import sys
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

repository = pathlib.Path.cwd()
updates = []
for line in sys.stdin.read().splitlines():
    parts = line.split()
    if len(parts) == 3:
        updates.append({"old": parts[0], "new": parts[1], "ref": parts[2]})
endpoint_file = repository.parent.parent / %(endpoint)r
try:
    url = endpoint_file.read_text().strip() + %(route)r
    body = json.dumps({"region": repository.parent.name, "repositoryName": repository.name[:-len(".git")],
                       "updates": updates}).encode()
    key = json.loads((repository.parent.parent.parent / %(credentials)r).read_text())
    signing = AWSRequest("POST", url, data=body, headers={"Content-Type": "application/json"})
    credentials = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    SigV4Auth(credentials, "codecommit", repository.parent.name).add_auth(signing)
    request = urllib.request.Request(url, data=body, headers=dict(signing.headers.items()))
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()
except Exception as error:
    print(f"warning: the local cloud was not told about this push ({error}); the push is kept, "
          "but no CodeCommit event was sent", file=sys.stderr)
'''


def script() -> str:
    """The hook's source, run by this Python (it signs with botocore, which this Python has)."""
    return f"#!{sys.executable}\n" + _BODY % {"endpoint": ENDPOINT_FILE, "route": ROUTE, "credentials": FILE_NAME}
