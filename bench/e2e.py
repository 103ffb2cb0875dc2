"""Project -> production on the local cloud: wall time, with the time of every stage.

Runs the demo's lifecycle (publish, create the project, whose creation runs ModelBuild on the seed
commit, wait for the registered model, approve, staging tested, approve, prod) against a fresh local
cloud in a temporary state folder on a free port, then stops it. Target: project -> production in at
most 60 s.

    python bench/e2e.py
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from localcloud.tools import daemon, demo  # noqa: E402

TARGET_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> int:
    with tempfile.TemporaryDirectory() as state:
        os.environ["LOCALCLOUD_STATE_DIR"] = state
        os.environ["LOCALCLOUD_PORT"] = str(free_port())
        try:
            result = demo.run("bench-e2e", keep_previous=True, next_steps=False)
        finally:
            daemon.stop(Path(state))
    print(f"\nproject -> production: {result.project_to_production:.1f} s (target <= {TARGET_SECONDS:.0f} s)")
    return 0 if result.project_to_production <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
