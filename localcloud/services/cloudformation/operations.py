"""Stack operations run in the background, as CloudFormation runs them.

``CreateStack``, ``UpdateStack`` and ``DeleteStack`` answer as soon as the stack is ``*_IN_PROGRESS``;
the work itself (resources, custom resources' functions, endpoint deployments that bake for
minutes) goes on in a thread of its own, and clients follow it with ``DescribeStacks`` as they do on
AWS. So no request holds the state lock for a stack's whole life: the operation's thread takes the
lock while it changes state and lets go only in its waits, which belong to no request.

Operations on one stack run one after another, in the order asked; a nested stack's operation runs
inside its parent's. A stack that a stop cut off mid-operation is taken to a definite state when
the local cloud starts again (a create or an update rolls back, a delete runs again), with a reason
that says the local cloud stopped, instead of staying ``*_IN_PROGRESS`` for ever.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from moto.cloudformation.models import Stack, cloudformation_backends

from localcloud.core import moto_seam as seam

log = logging.getLogger("localcloud.services.cloudformation.operations")
_inside = threading.local()
INTERRUPTED = "The local cloud stopped during this operation"
FAILED_STATUS = {"CREATE": "CREATE_FAILED", "UPDATE": "UPDATE_ROLLBACK_FAILED", "DELETE": "DELETE_FAILED"}


def in_background() -> bool:
    """Should the operation being asked for run in a thread of its own (False: run it now)?"""
    return seam.bound() is not None and not getattr(_inside, "operation", False)


class StackOperations:
    """The threads that carry stack operations, one stack's operations in order."""

    def __init__(self, cloud):
        self.cloud = cloud
        self._order: dict[str, threading.Lock] = {}
        self._order_lock = threading.Lock()
        self._threads: set[threading.Thread] = set()

    def start(self, stack: Stack, verb: str, work: Callable[[], None]) -> None:
        """Run ``work`` for ``stack`` after the request that asked for it has answered."""
        with self._order_lock:
            order = self._order.setdefault(stack.stack_id, threading.Lock())
        thread = threading.Thread(
            target=self._run, args=(order, stack, verb, work), name=f"stack-{verb}-{stack.name}", daemon=True
        )
        self._threads.add(thread)
        thread.start()

    def _run(self, order: threading.Lock, stack: Stack, verb: str, work: Callable[[], None]) -> None:
        try:
            with order, self.cloud.state.lock:
                if self.cloud.stopping.is_set():
                    return  # left IN_PROGRESS in the state: the next start resolves it
                _inside.operation = True
                try:
                    work()
                except Exception:  # the lifecycle wrappers turn failures into stack states; this is a bug
                    log.exception("stack %s: %s operation failed unexpectedly", stack.name, verb)
                    stack.status = FAILED_STATUS.get(verb, f"{stack.status.rsplit('_IN_PROGRESS', 1)[0]}_FAILED")
                    stack.stack_status_reason = "the local cloud failed while running this operation; see its log"
                finally:
                    _inside.operation = False
                    if getattr(stack, "delete_requested", False) and not stack.status.endswith("_IN_PROGRESS"):
                        stack.status = "DELETE_IN_PROGRESS"  # a DeleteStack waited for this operation: no gap
                    if not self.cloud.stopping.is_set():  # a stopped cloud's state is the next start's to resolve
                        self.cloud.state.save_backends()
        finally:
            self._threads.discard(threading.current_thread())

    # after a stop ------------------------------------------------------------------------------
    def resume(self) -> None:
        """Take every stack a stop cut off mid-operation to a definite state, in the background."""
        from localcloud.services.cloudformation import stacks

        for regions in cloudformation_backends.values():
            for backend in regions.values():
                for stack in list(backend.stacks.values()):
                    if stack.status.endswith("_IN_PROGRESS"):
                        log.warning("stack %s was %s when the local cloud stopped", stack.name, stack.status)
                        self.start(stack, "RESUME", lambda s=stack, b=backend: stacks.finish_interrupted(b, s))
