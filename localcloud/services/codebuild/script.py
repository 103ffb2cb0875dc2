"""The bash program that runs a buildspec's phases, as CodeBuild's agent would.

All commands run in one shell, so ``export`` and ``cd`` carry over from command to command and
phase to phase. A failing command ends its phase (its ``finally`` commands still run); an
``install`` or ``pre_build`` failure ends the build, a ``build`` failure still runs ``post_build``,
and ``on-failure: CONTINUE`` goes on to the next phase. The program reports progress to the runner
with marker lines (``MARK``-prefixed) that never reach the build's log.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from localcloud.services.codebuild.buildspec import Buildspec, Phase

MARK = "\x1e[codebuild]"
# Phases after which a failure (with on-failure ABORT) still lets these run.
STILL_RUNS_AFTER_FAILURE = {"build": {"post_build"}}
RUNTIME_NOTE = "runtime-versions {runtime}: {version} cannot be installed locally; using the local cloud Python instead"

PRELUDE = f"""\
exec </dev/null
__cb_mark() {{ printf '%s %s\\n' '{MARK}' "$*"; }}
__cb_log() {{ printf '[Container] %s %s\\n' "$(date -u '+%Y/%m/%d %H:%M:%S')" "$*"; }}
trap '__cb_mark EXIT $?' EXIT
export CODEBUILD_BUILD_SUCCEEDING=1
__cb_abort=""
__cb_skip_to=""
cd "$CODEBUILD_SRC_DIR" || exit 1
"""


def _command_block(phase: str, index: int, path: str, text: str, always: bool) -> str:
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    guard = "true" if always else '[ -z "$__cb_failed" ]'
    return f"""\
if {guard}; then
  __cb_log {shlex.quote(f"Running command {first_line}")}
  . {shlex.quote(path)}
  __cb_rc=$?
  if [ $__cb_rc -ne 0 ]; then
    __cb_log "Command did not exit successfully {first_line.replace('"', "'")} exit status $__cb_rc"
    [ -z "$__cb_failed" ] && __cb_failed=$__cb_rc && __cb_mark COMMAND_FAILED {phase} {index} $__cb_rc
  fi
fi
"""


def _phase_block(phase: Phase, files: dict[tuple[str, int], str]) -> str:
    allowed_after_failure = " ".join(
        sorted(
            {later for earlier, laters in STILL_RUNS_AFTER_FAILURE.items() for later in laters if later == phase.name}
        )
    )
    runs_if = '[ -z "$__cb_abort" ]'
    if allowed_after_failure:
        runs_if = f'{{ [ -z "$__cb_abort" ] || [ "$__cb_skip_to" = {phase.name} ]; }}'
    body = [
        f"if {runs_if}; then",
        '  __cb_abort=""',
        '  __cb_failed=""',
        f"  __cb_mark PHASE_START {phase.name}",
        f"  __cb_log 'Entering phase {phase.name.upper()}'",
    ]
    for runtime, version in phase.runtime_versions.items():
        body.append(f"  __cb_log {shlex.quote(RUNTIME_NOTE.format(runtime=runtime, version=version))}")
    for index, command in enumerate(phase.commands):
        body.append(_command_block(phase.name, index, files[(phase.name, index)], command, always=False))
    for index, command in enumerate(phase.finally_commands):
        key = (f"{phase.name}-finally", index)
        body.append(_command_block(phase.name, len(phase.commands) + index, files[key], command, always=True))
    body += [
        f"  __cb_mark PHASE_END {phase.name} ${{__cb_failed:-0}}",
        '  if [ -n "$__cb_failed" ]; then',
        "    export CODEBUILD_BUILD_SUCCEEDING=0",
        f"    __cb_log 'Phase complete: {phase.name.upper()} State: FAILED'",
    ]
    if phase.on_failure == "ABORT":
        body.append("    __cb_abort=1")
        following = STILL_RUNS_AFTER_FAILURE.get(phase.name)
        if following:
            body.append(f"    __cb_skip_to={sorted(following)[0]}")
    body += ["  else", f"    __cb_log 'Phase complete: {phase.name.upper()} State: SUCCEEDED'", "  fi", "fi"]
    return "\n".join(body) + "\n"


def _exports(names: list[str]) -> str:
    lines = []
    for name in names:
        lines.append(
            f'if [ -n "${{{name}+set}}" ]; then __cb_mark EXPORT {name} "$(printf %s "${{{name}}}" | base64 -w0)"; fi'
        )
    return "\n".join(lines) + "\n"


def write(spec: Buildspec, folder: Path, mount_point: str) -> str:
    """Write the program and one file per command into ``folder``; returns the program's path as seen
    inside the sandbox (``folder`` is mounted at ``mount_point``)."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[tuple[str, int], str] = {}
    for phase in spec.phases:
        for kind, commands in (
            (phase.name, phase.commands),
            (f"{phase.name}-finally", phase.finally_commands),
        ):
            for index, command in enumerate(commands):
                name = f"{kind}-{index}.sh"
                (folder / name).write_text(command + "\n")
                files[(kind, index)] = f"{mount_point}/{name}"
    program = (
        [PRELUDE]
        + [_phase_block(phase, files) for phase in spec.phases]
        + ['__cb_skip_to=""', _exports(spec.exported_variables), "trap - EXIT", "__cb_mark DONE", "exit 0"]
    )
    (folder / "build.sh").write_text("\n".join(program))
    return f"{mount_point}/build.sh"
