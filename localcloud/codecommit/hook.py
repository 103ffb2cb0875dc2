"""The ``post-receive`` hook installed in every repository: a push becomes a CodeCommit event.

git runs the hook inside the bare repository after the refs are updated. The hook reads where the
local cloud listens from ``<state root>/codecommit/endpoint`` (rewritten on every start, so a
restart on another port keeps working) and posts the updated refs to it. It never fails the push:
if the local cloud is down, the push is kept and the hook prints a warning that no event was sent
(CodeCommit would have sent one; start the local cloud and push again, or start the pipeline by hand).
"""

from __future__ import annotations

import sys

ROUTE = "/_localcloud/codecommit/push"
ENDPOINT_FILE = "endpoint"

_BODY = '''
"""post-receive: tell the local cloud which refs this push changed (it emits the CodeCommit event)."""
import json
import pathlib
import sys
import urllib.request

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
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()
except Exception as error:
    print(f"warning: the local cloud was not told about this push ({error}); the push is kept, "
          "but no CodeCommit event was sent", file=sys.stderr)
'''


def script() -> str:
    """The hook's source, run by this Python (any Python 3 would do: it uses the standard library)."""
    return f"#!{sys.executable}\n" + _BODY % {"endpoint": ENDPOINT_FILE, "route": ROUTE}
