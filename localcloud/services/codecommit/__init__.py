"""Local CodeCommit: real git repositories behind moto's records, push events, CloudFormation seeding.

Repositories are bare git repositories at ``<state root>/codecommit/<region>/<name>.git``; the clone
URLs the API reports are their ``file://`` URLs (``git clone``/``git push`` work with them as is).
A push to any branch or tag puts ``CodeCommit Repository State Change`` on the default bus.
"""

from __future__ import annotations

from localcloud.core.state import atomic_write
from localcloud.services.codecommit import api, hook, push_events, repositories


class CodeCommitService:
    def __init__(self, cloud):
        self.cloud = cloud

    def resume(self) -> None:
        """Tell the hooks where we listen now, and bring every known repository up to date."""
        folder = self.cloud.state.path("codecommit")
        atomic_write(folder / hook.ENDPOINT_FILE, (self.cloud.url + "\n").encode())
        with self.cloud.state.lock:
            repositories.reconcile()


def install(cloud) -> CodeCommitService:
    repositories.patch_backend()
    cloud.state.note_backend("codecommit")
    api.register(cloud)
    push_events.register(cloud)
    return CodeCommitService(cloud)
