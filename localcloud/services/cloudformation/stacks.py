"""Stack lifecycle as CloudFormation runs it, on top of moto's synchronous engine.

moto raises out of ``CreateStack`` when a resource fails (leaving the stack ``CREATE_IN_PROGRESS``
forever), deletes resources in no particular order, updates only the resources whose own template
text changed, and drops a stack that failed to delete. Here:

- a failed resource fails the stack with its reason (a ``*_FAILED`` resource event, then
  ``ROLLBACK_COMPLETE`` after deleting what was made; a failed update rolls back to the previous
  template and parameters: ``UPDATE_ROLLBACK_COMPLETE``; a failed deletion is ``DELETE_FAILED`` and
  the stack stays);
- deletion runs in reverse dependency order (Ref, GetAtt, Sub, DependsOn);
- an update also updates every resource that depends on a changed one, in dependency order, and
  honours conditions that turned on or off;
- resources replaced during an update are deleted only once the whole update succeeded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from moto.cloudformation import parsing
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend, Event, Stack
from moto.cloudformation.parsing import OutputMap, ResourceMap

from localcloud.core import moto_seam as seam
from localcloud.services.cloudformation import operations
from localcloud.services.cloudformation.base import ResourceFailed, message_of
from localcloud.services.cloudformation.references import dependency_order, dependents

log = logging.getLogger("localcloud.services.cloudformation")
RETAINED = {"Retain", "RetainExceptOnCreate", "Snapshot"}
# Stacks in these states show no outputs (moto would evaluate them lazily and so re-create resources).
WITHOUT_OUTPUTS = {
    "CREATE_FAILED",
    "ROLLBACK_IN_PROGRESS",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "DELETE_COMPLETE",
}
_update = threading.local()


class ResourceOperationFailed(Exception):
    """A resource's create/update/delete failed; carries which one and why."""

    def __init__(self, logical_id: str, resource_type: str, reason: str):
        super().__init__(f"{logical_id} ({resource_type}): {reason}")
        self.logical_id, self.resource_type, self.reason = logical_id, resource_type, reason


def _failure(error: Exception, logical_id: str, resource_type: str) -> ResourceOperationFailed:
    if isinstance(error, ResourceOperationFailed):
        return error
    if not isinstance(error, ResourceFailed):
        log.warning("%s (%s) failed", logical_id, resource_type, exc_info=error)
    return ResourceOperationFailed(logical_id, resource_type, message_of(error))


# deferred clean-up of replaced resources ----------------------------------------------------------
def after_update_succeeds(action: Callable[[], None]) -> None:
    """Run ``action`` when the current stack update has succeeded (now, outside of an update)."""
    pending = getattr(_update, "cleanups", None)
    if pending is None:
        action()
    else:
        pending.append(action)


# resource-level wrappers (moto's parsing module looks these up at call time) ----------------------
def _wrap_create(original):
    def parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name):
        try:
            return original(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as error:
            raise _failure(error, logical_id, resource_json.get("Type", "?")) from error

    return parse_and_create_resource


def _wrap_update(original):
    def parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):
        condition = resource_json.get("Condition")
        enabled = not condition or resources_map.lazy_condition_map[condition]
        existing = resources_map._parsed_resources.get(logical_id)
        try:
            if not enabled:
                if existing is not None:
                    resources_map._delete_resource(existing, resource_json)
                return None
            if existing is None:
                return parsing.parse_and_create_resource(
                    logical_id, resource_json, resources_map, account_id, region_name
                )
            return original(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as error:
            raise _failure(error, logical_id, resource_json.get("Type", "?")) from error

    return parse_and_update_resource


def _wrap_diff(original):
    def build_resource_diff(self: ResourceMap, other_template: dict[str, Any], parameters=None):
        diff = original(self, other_template, parameters)
        new = other_template["Resources"]
        changed = set(diff["Modify"]) | set(diff["Add"])
        for name in dependents(new, changed):
            if name in self._resource_json_map and _updatable(new[name]["Type"]):
                diff["Modify"].append(name)
        order = dependency_order(new)
        diff["Modify"] = sorted(set(diff["Modify"]), key=order.index)
        return diff

    return build_resource_diff


def _updatable(resource_type: str) -> bool:
    resource_class = parsing.resource_class_from_type(resource_type)
    return resource_class is not None and not hasattr(
        resource_class.update_from_cloudformation_json, "__isabstractmethod__"
    )


def delete_resources(self: ResourceMap) -> None:
    """Delete in reverse dependency order; the first failure stops and names the resource."""
    for logical_id in reversed(dependency_order(self._resource_json_map)):
        resource_json = self._resource_json_map[logical_id]
        resource = self._parsed_resources.get(logical_id)
        if resource is None or isinstance(resource, (str, int, float, list, dict)):
            continue
        if resource_json.get("DeletionPolicy") in RETAINED:
            self._parsed_resources.pop(logical_id)
            continue
        try:
            self._delete_resource(resource, resource_json)
        except Exception as error:
            raise _failure(error, logical_id, resource_json.get("Type", "?")) from error
        self._parsed_resources.pop(logical_id)


# stack-level outcomes ----------------------------------------------------------------------------
def resource_event(stack: Stack, failure: ResourceOperationFailed, status: str) -> None:
    stack.events.append(
        Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=failure.logical_id,
            physical_resource_id="",
            resource_type=failure.resource_type,
            resource_status=status,
            resource_status_reason=failure.reason,
            resource_properties=None,
        )
    )


def set_status(stack: Stack, status: str, reason: str | None = None) -> None:
    if status in WITHOUT_OUTPUTS:
        stack.output_map = OutputMap(stack.resource_map, {}, stack.stack_id)
    stack.status = status
    stack.stack_status_reason = reason
    stack._add_stack_event(status, resource_status_reason=reason)


def _as_failure(error: Exception) -> ResourceOperationFailed:
    return error if isinstance(error, ResourceOperationFailed) else _failure(error, "?", "?")


def _operations():
    from localcloud.services.cloudformation.operations import StackOperations

    return seam.bound().service(StackOperations)


def _refuse_while_busy(stack: Stack, verb: str) -> None:
    if stack.status.endswith("_IN_PROGRESS"):
        message = f"Stack:{stack.stack_id} is in {stack.status} state and can not be {verb}."
        raise ValidationError(stack.stack_id, message=message)


def roll_back_create(stack: Stack, reason: str) -> None:
    """Delete what a failed create made (``ROLLBACK_COMPLETE``), unless the stack asked to keep it."""
    if stack.disable_rollback:
        set_status(stack, "CREATE_FAILED", reason)
        return
    set_status(stack, "ROLLBACK_IN_PROGRESS", reason)
    try:
        stack.resource_map.delete()
    except Exception as rollback_error:
        failed = _as_failure(rollback_error)
        resource_event(stack, failed, "DELETE_FAILED")
        set_status(stack, "ROLLBACK_FAILED", f"{reason} Rollback failed: {failed}")
        return
    set_status(stack, "ROLLBACK_COMPLETE", reason)


def _wrap_create_resources(original):
    def create_now(self: Stack) -> None:
        try:
            original(self)
        except Exception as error:
            failure = _as_failure(error)
            resource_event(self, failure, "CREATE_FAILED")
            reason = f"The following resource(s) failed to create: [{failure.logical_id}]. {failure.reason}"
            roll_back_create(self, reason)

    def create_resources(self: Stack) -> None:
        if not operations.in_background():
            create_now(self)
            return
        self.status = "CREATE_IN_PROGRESS"
        _operations().start(self, "CREATE", lambda: create_now(self))

    return create_resources


def roll_back_update(stack: Stack, previous_template: str, previous_parameters: dict, reason: str) -> None:
    """Put the previous template and parameters back (``UPDATE_ROLLBACK_COMPLETE``)."""
    set_status(stack, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
    _update.cleanups = None  # what the failed update made stays referenced by nothing; keep the old
    try:
        stack.template = previous_template
        stack._parse_template()
        stack.resource_map.update(stack.template_dict, previous_parameters)
        stack.output_map = stack._create_output_map()
        stack.parameters = previous_parameters
    except Exception as rollback_error:
        set_status(stack, "UPDATE_ROLLBACK_FAILED", f"{reason} Rollback failed: {_as_failure(rollback_error)}")
        return
    set_status(stack, "UPDATE_ROLLBACK_COMPLETE", reason)


def _wrap_stack_update(original):
    def update_now(self: Stack, template: str, role_arn=None, parameters=None, tags=None) -> None:
        previous_template, previous_parameters = self.previous_update
        _update.cleanups = []
        try:
            original(self, template, role_arn, parameters, tags)
        except Exception as error:
            failure = _as_failure(error)
            resource_event(self, failure, "UPDATE_FAILED")
            reason = f"The following resource(s) failed to update: [{failure.logical_id}]. {failure.reason}"
            roll_back_update(self, previous_template, previous_parameters, reason)
            return
        finally:
            cleanups, _update.cleanups = getattr(_update, "cleanups", None) or [], None
        for cleanup in cleanups:
            try:
                cleanup()
            except Exception:  # the update succeeded; a leftover old resource is only logged, as AWS does
                log.warning("stack %s: could not delete a replaced resource", self.name, exc_info=True)
        self.stack_status_reason = None

    def update(self: Stack, template: str, role_arn=None, parameters=None, tags=None) -> None:
        _refuse_while_busy(self, "updated")
        # kept on the stack (and so in the state): a restart that cut the update off rolls back to it
        self.previous_update = (self.template, dict(self.resource_map.input_parameters))
        if not operations.in_background():
            update_now(self, template, role_arn, parameters, tags)
            return
        self.status = "UPDATE_IN_PROGRESS"
        _operations().start(self, "UPDATE", lambda: update_now(self, template, role_arn, parameters, tags))

    return update


def _wrap_stack_delete(original):
    def delete(self: Stack) -> None:
        outputs, self.output_map = self.output_map, OutputMap(self.resource_map, {}, self.stack_id)
        try:
            original(self)
        except Exception as error:
            self.output_map = outputs
            failure = _as_failure(error)
            resource_event(self, failure, "DELETE_FAILED")
            set_status(
                self,
                "DELETE_FAILED",
                f"The following resource(s) failed to delete: [{failure.logical_id}]. {failure.reason}",
            )

    return delete


def _delete_now(backend: CloudFormationBackend, stack: Stack) -> None:
    """Delete the stack's resources; the stack stays listed (``DELETE_IN_PROGRESS``) until they are gone.

    A stack that failed to delete stays, with its exports, as in CloudFormation.
    """
    stack.delete_requested = False
    export_names = [export.name for export in stack.exports]
    stack.delete()
    if stack.status == "DELETE_FAILED":
        return
    backend.stacks.pop(stack.stack_id, None)
    backend.deleted_stacks[stack.stack_id] = stack
    for name in export_names:
        backend.exports.pop(name, None)


def delete_stack(self: CloudFormationBackend, name_or_stack_id: str) -> None:
    stack = self.stacks.get(name_or_stack_id) or next(
        (s for s in self.stacks.values() if s.name == name_or_stack_id), None
    )
    if stack is None:
        return  # nothing to delete: DeleteStack succeeds, as on AWS
    if not operations.in_background():
        _delete_now(self, stack)
        return
    if stack.status == "DELETE_IN_PROGRESS" or getattr(stack, "delete_requested", False):
        return  # already being deleted: DeleteStack again changes nothing
    if stack.status.endswith("_IN_PROGRESS"):
        stack.delete_requested = True  # the running operation hands over to the deletion (operations.py)
    else:
        stack.status = "DELETE_IN_PROGRESS"
    _operations().start(stack, "DELETE", lambda: _delete_now(self, stack))


# what a read sees of a stack while its operation runs ---------------------------------------------
def _made_so_far(stack: Stack) -> list:
    return [
        resource
        for resource in stack.resource_map._parsed_resources.values()
        if not isinstance(resource, (str, int, float, list, dict)) and resource is not None
    ]


def _wrap_outputs(original: property) -> property:
    """No outputs while an operation runs (as on AWS); evaluating them would make resources from a read."""
    return property(lambda self: None if self.status.endswith("_IN_PROGRESS") else original.fget(self))


def _wrap_stack_resources(original: property) -> property:
    """While an operation runs, the resources made so far (moto's lazy map would make the rest)."""
    return property(lambda self: _made_so_far(self) if self.status.endswith("_IN_PROGRESS") else original.fget(self))


def finish_interrupted(backend: CloudFormationBackend, stack: Stack) -> None:
    """Take a stack that a stop cut off mid-operation to a definite state, saying why."""
    status = stack.status
    reason = f"{operations.INTERRUPTED} ({status})."
    if getattr(stack, "delete_requested", False) or status == "DELETE_IN_PROGRESS":
        stack.status = "DELETE_IN_PROGRESS"  # a deletion was asked for: it is what happens next
        backend.delete_stack(stack.stack_id)
        return
    if status in ("CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS"):
        roll_back_create(stack, reason if status == "CREATE_IN_PROGRESS" else stack.stack_status_reason or reason)
    elif status in ("UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"):
        previous = getattr(stack, "previous_update", None)
        if status == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS":
            set_status(stack, "UPDATE_COMPLETE")
        elif previous is None:
            set_status(stack, "UPDATE_ROLLBACK_FAILED", f"{reason} The previous template is not known.")
        else:
            roll_back_update(stack, previous[0], previous[1], reason)


def install() -> None:
    lifecycle = "moto creating, updating and deleting stacks asynchronously with CloudFormation's failure semantics"
    seam.patch(
        parsing,
        "parse_and_create_resource",
        wrap=_wrap_create,
        why="a resource that fails to create names its logical id and type, instead of raising out of CreateStack",
        until=lifecycle,
    )
    seam.patch(
        parsing,
        "parse_and_update_resource",
        wrap=_wrap_update,
        why="a resource that fails to update names itself, so the stack can roll back",
        until=lifecycle,
    )
    seam.patch(
        ResourceMap,
        "build_resource_diff",
        wrap=_wrap_diff,
        why="an update also updates the resources depending on a changed one, and honours conditions",
        until="moto's change detection following Ref/GetAtt/Sub/DependsOn and conditions",
    )
    seam.patch(
        ResourceMap,
        "delete",
        value=delete_resources,
        why="deletion in reverse dependency order, stopping at the first failure with its reason",
        until="moto deleting stack resources in dependency order",
    )
    seam.patch(
        Stack,
        "create_resources",
        wrap=_wrap_create_resources,
        why="a failed resource fails the stack (CREATE_FAILED events, then ROLLBACK_COMPLETE)",
        until=lifecycle,
    )
    seam.patch(
        Stack,
        "update",
        wrap=_wrap_stack_update,
        why="a failed update rolls back to the previous template and parameters (UPDATE_ROLLBACK_COMPLETE)",
        until=lifecycle,
    )
    seam.patch(
        Stack,
        "delete",
        wrap=_wrap_stack_delete,
        why="a failed deletion is DELETE_FAILED and the stack stays",
        until=lifecycle,
    )
    reads = "moto's stack reads not evaluating templates lazily (outputs and resources made on first read)"
    seam.patch(
        Stack,
        "outputs",
        wrap=_wrap_outputs,
        why="a stack shows no outputs while an operation runs: evaluating them would create resources from a read",
        until=reads,
    )
    seam.patch(
        Stack,
        "stack_resources",
        wrap=_wrap_stack_resources,
        why="while an operation runs, a stack lists the resources made so far instead of making the rest",
        until=reads,
    )
    seam.patch(
        CloudFormationBackend,
        "delete_stack",
        value=delete_stack,
        why="deletion runs in the background with the stack listed until it is gone; moto drops a stack that "
        "failed to delete, CloudFormation keeps it with its exports",
        until=lifecycle,
    )
