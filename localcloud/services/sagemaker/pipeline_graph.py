"""The shape of a pipeline definition: which steps exist, where they sit, and what each waits for.

A step inside a condition's ``IfSteps`` or ``ElseSteps`` is a child of that condition: it can run
only once the condition has resolved to its branch. What a condition itself waits for is read from
its ``Conditions`` and ``DependsOn`` only; its branches are not its inputs (reading them there makes
a condition wait for a step of its own branch, which never starts).

Problems SageMaker would refuse (a name used twice, a reference to no step, a cycle) are found here,
before anything runs, and named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BRANCHES = ("IfSteps", "ElseSteps")


class DefinitionError(ValueError):
    """The definition cannot run as written; the message names the steps and the fix."""


@dataclass
class Node:
    name: str
    step: dict[str, Any]
    parent: tuple[str, str] | None = None  # (condition step name, "IfSteps" | "ElseSteps")
    needs: set[str] = field(default_factory=set)


def _references(value: Any, found: set[str]) -> set[str]:
    """Names of the steps an argument tree reads from (``{"Get": "Steps.<name>..."}``)."""
    if isinstance(value, dict):
        get = value.get("Get")
        if isinstance(get, str) and get.startswith("Steps."):
            found.add(get.split(".")[1].split("[")[0])
        for item in value.values():
            _references(item, found)
    elif isinstance(value, list):
        for item in value:
            _references(item, found)
    return found


def own_inputs(step: dict[str, Any]) -> set[str]:
    """The steps this step reads from or names in DependsOn, leaving out a condition's branches."""
    arguments = step.get("Arguments") or {}
    if step.get("Type") == "Condition":
        arguments = {key: value for key, value in arguments.items() if key not in BRANCHES}
    depends_on = step.get("DependsOn") or []
    if not isinstance(depends_on, list) or not all(isinstance(name, str) for name in depends_on):
        raise DefinitionError(f"step {step.get('Name')!r}: DependsOn must be a list of step names")
    found = _references(arguments, set(depends_on))
    found.discard(step.get("Name"))
    return found


class PipelineGraph:
    """Every step of a definition (branches included), its parent condition and its inputs."""

    def __init__(self, definition: dict[str, Any]):
        self.nodes: dict[str, Node] = {}
        self.top_level: list[str] = []
        steps = definition.get("Steps")
        if not isinstance(steps, list):
            raise DefinitionError("the definition has no Steps list")
        self._add(steps, None)
        for node in self.nodes.values():
            node.needs = own_inputs(node.step)
            unknown = sorted(node.needs - set(self.nodes))
            if unknown:
                raise DefinitionError(
                    f"step {node.name!r} depends on {', '.join(map(repr, unknown))}, which the definition "
                    f"does not have (steps: {', '.join(sorted(self.nodes))}); fix the name or add the step"
                )
        cycle = self._cycle()
        if cycle:
            raise DefinitionError(
                "the steps depend on each other in a cycle, so none of them can start: "
                + " -> ".join(cycle)
                + "; remove one of these dependencies"
            )

    def _add(self, steps: list[Any], parent: tuple[str, str] | None) -> None:
        for step in steps:
            if not isinstance(step, dict) or not isinstance(step.get("Name"), str) or "Type" not in step:
                raise DefinitionError(f"every step needs a Name and a Type; got {step!r:.200}")
            name = step["Name"]
            if name in self.nodes:
                raise DefinitionError(f"step name {name!r} is used more than once; step names must be unique")
            self.nodes[name] = Node(name, step, parent)
            if parent is None:
                self.top_level.append(name)
            if step["Type"] == "Condition":
                arguments = step.get("Arguments") or {}
                for branch in BRANCHES:
                    children = arguments.get(branch) or []
                    if not isinstance(children, list):
                        raise DefinitionError(f"condition step {name!r}: {branch} must be a list of steps")
                    self._add(children, (name, branch))

    def waits_for(self, name: str) -> set[str]:
        """What must succeed before the step can start: its inputs and, in a branch, its condition."""
        node = self.nodes[name]
        return node.needs | ({node.parent[0]} if node.parent else set())

    def _cycle(self) -> list[str] | None:
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        path: list[str] = []

        def visit(name: str) -> list[str] | None:
            state[name] = 1
            path.append(name)
            for needed in sorted(self.waits_for(name)):
                if state.get(needed) == 1:
                    return path[path.index(needed) :] + [needed]
                if needed not in state:
                    found = visit(needed)
                    if found:
                        return found
            path.pop()
            state[name] = 2
            return None

        for name in self.nodes:
            if name not in state:
                found = visit(name)
                if found:
                    return found
        return None

    def branch_taken(self, name: str, outcomes: dict[str, bool]) -> bool | None:
        """Whether the step's branches all resolved its way: True, False (another branch), None (not yet)."""
        parent = self.nodes[name].parent
        while parent is not None:
            condition, branch = parent
            if condition not in outcomes:
                return None
            if (branch == "IfSteps") != outcomes[condition]:
                return False
            parent = self.nodes[condition].parent
        return True

    def stuck(self, name: str, outcomes: dict[str, bool], statuses: dict[str, str]) -> str:
        """Why a step on a taken branch that has not started never will, in words naming the steps."""
        reasons = []
        for needed in sorted(self.waits_for(name)):
            status = statuses.get(needed)
            if status == "Succeeded":
                continue
            if self.branch_taken(needed, outcomes) is False:
                condition, branch = self._untaken_parent(needed, outcomes)
                reasons.append(f"{needed!r}, which is in the {branch} of {condition!r}, a branch not taken")
            elif status:
                reasons.append(f"{needed!r}, which is {status}")
            else:
                reasons.append(f"{needed!r}, which never started")
        return f"{name!r} waits for " + " and ".join(reasons or ["nothing (an internal error of the executor)"])

    def _untaken_parent(self, name: str, outcomes: dict[str, bool]) -> tuple[str, str]:
        parent = self.nodes[name].parent
        while parent is not None:
            condition, branch = parent
            if condition in outcomes and (branch == "IfSteps") != outcomes[condition]:
                return condition, branch
            parent = self.nodes[condition].parent
        raise KeyError(name)
