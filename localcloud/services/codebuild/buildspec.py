"""Buildspec version 0.2: parsed and validated before anything runs, so mistakes are named early.

Only what a local build can honour is accepted; anything else is rejected with the field's name
and the fix, rather than silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

PHASES = ("install", "pre_build", "build", "post_build")
SHELLS = ("bash", "sh")


class BuildspecError(ValueError):
    """The buildspec cannot run; the message names the field and what it should be."""


@dataclass
class Phase:
    name: str
    commands: list[str] = field(default_factory=list)
    finally_commands: list[str] = field(default_factory=list)
    on_failure: str = "ABORT"
    runtime_versions: dict[str, str] = field(default_factory=dict)


@dataclass
class ArtifactSpec:
    files: list[str]
    base_directory: str = ""
    discard_paths: bool = False
    name: str = ""
    exclude_paths: list[str] = field(default_factory=list)


@dataclass
class ReportSpec:
    name: str
    files: list[str]
    base_directory: str = ""
    file_format: str = "JUNITXML"


@dataclass
class Buildspec:
    phases: list[Phase]
    variables: dict[str, str] = field(default_factory=dict)
    parameter_store: dict[str, str] = field(default_factory=dict)
    secrets_manager: dict[str, str] = field(default_factory=dict)
    exported_variables: list[str] = field(default_factory=list)
    shell: str = "bash"
    artifacts: ArtifactSpec | None = None
    secondary_artifacts: dict[str, ArtifactSpec] = field(default_factory=dict)
    reports: list[ReportSpec] = field(default_factory=list)


def _string_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise BuildspecError(f"{where} must be a list of strings")
    return [str(v) for v in value]


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BuildspecError(f"{where} must be a mapping of names to values")
    return value


def _yes(value: Any) -> bool:
    return value is True or str(value).lower() in ("yes", "true")


def _phase(name: str, body: Any) -> Phase:
    where = f"phases.{name}"
    body = _mapping(body, where)
    unknown = set(body) - {"commands", "finally", "on-failure", "runtime-versions", "run-as"}
    if unknown:
        raise BuildspecError(
            f"{where} has unknown keys {sorted(unknown)}; allowed: commands, finally, on-failure, runtime-versions"
        )
    on_failure = str(body.get("on-failure", "ABORT")).upper()
    if on_failure not in ("ABORT", "CONTINUE"):
        raise BuildspecError(f"{where}.on-failure is {body['on-failure']!r}; use ABORT or CONTINUE")
    runtimes = _mapping(body.get("runtime-versions"), f"{where}.runtime-versions")
    if runtimes and name != "install":
        raise BuildspecError(f"{where}.runtime-versions is only allowed in phases.install")
    return Phase(
        name,
        _string_list(body.get("commands"), f"{where}.commands"),
        _string_list(body.get("finally"), f"{where}.finally"),
        on_failure,
        {str(k): str(v) for k, v in runtimes.items()},
    )


def _artifact(body: Any, where: str) -> ArtifactSpec:
    body = _mapping(body, where)
    files = _string_list(body.get("files"), f"{where}.files")
    if not files:
        raise BuildspecError(f"{where}.files is required: list the paths or globs to upload, e.g. ['**/*']")
    return ArtifactSpec(
        files,
        str(body.get("base-directory", "") or ""),
        _yes(body.get("discard-paths")),
        str(body.get("name", "") or ""),
        _string_list(body.get("exclude-paths"), f"{where}.exclude-paths"),
    )


def _reports(body: Any) -> list[ReportSpec]:
    reports = []
    for name, spec in _mapping(body, "reports").items():
        spec = _mapping(spec, f"reports.{name}")
        files = _string_list(spec.get("files"), f"reports.{name}.files")
        if not files:
            raise BuildspecError(f"reports.{name}.files is required: list the report files, e.g. test-results.xml")
        file_format = str(spec.get("file-format", "JUNITXML")).upper()
        if file_format != "JUNITXML":
            raise BuildspecError(f"reports.{name}.file-format {file_format} is not supported locally; use JUNITXML")
        reports.append(ReportSpec(str(name), files, str(spec.get("base-directory", "") or ""), file_format))
    return reports


def parse(text: str, origin: str = "buildspec") -> Buildspec:
    """Parse buildspec YAML; raises BuildspecError naming the first problem."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise BuildspecError(f"{origin} is not valid YAML: {error}") from error
    if not isinstance(document, dict):
        raise BuildspecError(f"{origin} must be a YAML mapping with 'version' and 'phases'")
    if str(document.get("version")) != "0.2":
        raise BuildspecError(f"{origin}: version is {document.get('version')!r}; only version 0.2 is supported")
    phases_body = _mapping(document.get("phases"), "phases")
    unknown = set(phases_body) - set(PHASES)
    if unknown:
        raise BuildspecError(f"phases has unknown phases {sorted(unknown)}; allowed: {', '.join(PHASES)}")
    if not phases_body:
        raise BuildspecError(f"{origin} has no phases: add phases.build.commands")
    env = _mapping(document.get("env"), "env")
    shell = str(env.get("shell", "bash"))
    if shell not in SHELLS:
        raise BuildspecError(f"env.shell is {shell!r}; local builds run bash or sh")
    variables = {
        str(k): "" if v is None else str(v) for k, v in _mapping(env.get("variables"), "env.variables").items()
    }
    spec = Buildspec(
        phases=[_phase(name, phases_body[name]) for name in PHASES if name in phases_body],
        variables=variables,
        parameter_store={
            str(k): str(v) for k, v in _mapping(env.get("parameter-store"), "env.parameter-store").items()
        },
        secrets_manager={
            str(k): str(v) for k, v in _mapping(env.get("secrets-manager"), "env.secrets-manager").items()
        },
        exported_variables=_string_list(env.get("exported-variables"), "env.exported-variables"),
        shell=shell,
        reports=_reports(document.get("reports")),
    )
    artifacts = _mapping(document.get("artifacts"), "artifacts")
    if artifacts:
        secondary = _mapping(artifacts.get("secondary-artifacts"), "artifacts.secondary-artifacts")
        if artifacts.get("files") is not None:
            spec.artifacts = _artifact(artifacts, "artifacts")
        spec.secondary_artifacts = {
            str(k): _artifact(v, f"artifacts.secondary-artifacts.{k}") for k, v in secondary.items()
        }
    return spec
