"""One build, start to finish: fetch sources, run the buildspec in the sandbox, upload, report.

The build record is the BatchGetBuilds shape and is saved at every phase change, so the API
shows live progress. Phases follow CodeBuild's sequence (SUBMITTED ... COMPLETED) and each carries
its status and, on failure, a context naming the failing command, its exit code and the last
lines it printed.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcloud.core import sandbox
from localcloud.core.paths import PathEscape, contained
from localcloud.services.codebuild import artifacts, buildspec, environment, reports, script, sources

MOUNT = "/opt/ml"
SCRIPT_PHASES = {p: p.upper() for p in buildspec.PHASES}
TAIL_LINES = 15


class BuildFailed(Exception):
    """A phase outside the buildspec failed (source, buildspec, artifacts); carries the status code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class Build:
    """Runs one build; ``save(record)`` persists it, ``client(service)`` reaches the local cloud."""

    def __init__(
        self,
        record: dict[str, Any],
        project: dict[str, Any],
        request: dict[str, Any],
        *,
        folder: Path,
        state_root: Path,
        client: Callable[[str], Any],
        client_env: dict[str, str],
        save: Callable[[dict[str, Any]], None],
    ):
        self.record = record
        self.project = project
        self.request = request
        self.folder = folder
        self.state_root = state_root
        self.client = client
        self.client_env = client_env
        self.save = save
        self.lines: list[str] = []
        self._shipped = 0
        self._last_ship = time.monotonic()
        self._process: subprocess.Popen | None = None
        self._stop_reason: str | None = None
        self._phase_failed = False  # the build fails once it ends: it stays IN_PROGRESS until then, as on AWS
        self._failed_command: dict[str, Any] | None = None
        self.spec: buildspec.Buildspec | None = None
        self.lock = threading.RLock()

    # phases -------------------------------------------------------------------------------
    def _phase(self, phase_type: str) -> dict[str, Any]:
        with self.lock:
            self._end_current("SUCCEEDED")
            phase = {"phaseType": phase_type, "phaseStatus": "IN_PROGRESS", "startTime": time.time()}
            self.record["phases"].append(phase)
            self.record["currentPhase"] = phase_type
            self.save(self.record)
            return phase

    def _end_current(self, status: str, context: dict[str, str] | None = None) -> None:
        phases = self.record["phases"]
        if phases and phases[-1].get("phaseStatus") == "IN_PROGRESS":
            phase = phases[-1]
            phase["phaseStatus"] = status
            phase["endTime"] = time.time()
            phase["durationInSeconds"] = int(phase["endTime"] - phase["startTime"])
            if context:
                phase["contexts"] = [context]

    def _fail_current(self, code: str, message: str, status: str = "FAILED") -> None:
        with self.lock:
            self._end_current(status, {"statusCode": code, "message": message})
            self.save(self.record)
        # CodeBuild writes the failing phase's reason into the build log too: a reader of the log sees why
        stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime())
        self.log(f"[Container] {stamp} Phase context status code: {code} Message: {message}")

    # logs ---------------------------------------------------------------------------------
    def log(self, line: str) -> None:
        self.lines.append(line)
        if time.monotonic() - self._last_ship > 2:
            self.ship_logs()

    def ship_logs(self) -> None:
        self._last_ship = time.monotonic()
        logs_info = self.record["logs"]
        if not logs_info.get("groupName"):
            return
        pending = self.lines[self._shipped :]
        if not pending:
            return
        self._shipped = len(self.lines)
        logs = self.client("logs")
        now = int(time.time() * 1000)
        for start in range(0, len(pending), 5000):
            logs.put_log_events(
                logGroupName=logs_info["groupName"],
                logStreamName=logs_info["streamName"],
                logEvents=[{"timestamp": now, "message": line or " "} for line in pending[start : start + 5000]],
            )

    def _open_logs(self) -> None:
        info = self.record["logs"]
        if not info.get("groupName"):
            return
        logs = self.client("logs")
        try:
            logs.create_log_group(logGroupName=info["groupName"])
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        try:
            logs.create_log_stream(logGroupName=info["groupName"], logStreamName=info["streamName"])
        except logs.exceptions.ResourceAlreadyExistsException:
            pass

    def tail(self) -> str:
        shown = [line for line in self.lines if not line.startswith("[Container]")][-TAIL_LINES:]
        return "\n".join(shown)

    # stopping -----------------------------------------------------------------------------
    def stop(self, reason: str = "STOPPED") -> None:
        with self.lock:
            self._stop_reason = reason
            if self._process and self._process.poll() is None:
                self._process.kill()

    # running ------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        try:
            self._open_logs()
            self._run()
        except BuildFailed as failure:
            self._fail_current(failure.code, str(failure))
            self.record["buildStatus"] = "FAILED"
        except Exception as error:  # our bug or an unreachable service: report it on the build
            self.log(f"[Container] local cloud error: {error!r}")
            self._fail_current("CLIENT_ERROR", f"local cloud error: {error}")
            self.record["buildStatus"] = "FAULT"
        if self._phase_failed and self.record["buildStatus"] == "IN_PROGRESS":
            self.record["buildStatus"] = "FAILED"
        if self._stop_reason and self.record["buildStatus"] == "IN_PROGRESS":
            self.record["buildStatus"] = self._stop_reason
        with self.lock:
            if self.record["buildStatus"] == "IN_PROGRESS":
                self.record["buildStatus"] = "SUCCEEDED"
            self._end_current("SUCCEEDED" if self.record["buildStatus"] == "SUCCEEDED" else self.record["buildStatus"])
            self.record["phases"].append({"phaseType": "COMPLETED", "startTime": time.time()})
            self.record.update(currentPhase="COMPLETED", buildComplete=True, endTime=time.time())
            self.log(f"[Container] Build {self.record['buildStatus']}")
            try:
                self.ship_logs()
            except Exception:  # logs are best effort once the build is over
                pass
            self.save(self.record)
        shutil.rmtree(self.folder / "ml", ignore_errors=True)
        return self.record

    def _run(self) -> None:
        for phase in ("PROVISIONING",):
            self._phase(phase)
        ml = self.folder / "ml"
        if ml.exists():
            shutil.rmtree(ml)
        ml.mkdir(parents=True)
        self._phase("DOWNLOAD_SOURCE")
        src, secondary = self._fetch_sources(ml)
        spec = self.spec = self._load_buildspec(src)
        try:
            variables = environment.resolve(
                spec,
                self.project.get("environment", {}).get("environmentVariables") or [],
                self.request.get("environmentVariablesOverride") or [],
                self.client,
            )
        except environment.EnvironmentError_ as error:
            raise BuildFailed("CLIENT_ERROR", str(error)) from error
        if self._stop_reason:
            return
        env = {**variables, **self._codebuild_variables(secondary)}
        program = script.write(spec, ml / ".codebuild", f"{MOUNT}/.codebuild")
        exported = self._run_program(ml, program, env)
        if self._stop_reason:
            return
        self.record["exportedEnvironmentVariables"] = [{"name": k, "value": v} for k, v in exported.items()]
        succeeded = not self._phase_failed and self.record["buildStatus"] == "IN_PROGRESS"
        if succeeded:
            self._phase("UPLOAD_ARTIFACTS")
            self._upload_artifacts(spec, src)
        self._reports(spec, src)
        self._phase("FINALIZING")

    def _fetch_sources(self, ml: Path) -> tuple[Path, dict[str, Path]]:
        source = dict(self.project.get("source") or {})
        kind = self.request.get("sourceTypeOverride") or source.get("type", "NO_SOURCE")
        location = self.request.get("sourceLocationOverride") or source.get("location", "")
        version = self.request.get("sourceVersion") or self.project.get("sourceVersion")
        s3 = self.client("s3")
        try:
            fetched = sources.fetch(kind, location, version, ml / "src", self.state_root, self.record["region"], s3)
            self.record["resolvedSourceVersion"] = fetched.resolved_version
            secondary = {}
            versions = {
                v["sourceIdentifier"]: v.get("sourceVersion")
                for v in self.request.get("secondarySourcesVersionOverride") or []
            }
            for item in self.request.get("secondarySourcesOverride") or self.project.get("secondarySources") or []:
                identifier = item["sourceIdentifier"]
                extra = sources.fetch(
                    item["type"],
                    item.get("location", ""),
                    versions.get(identifier),
                    contained(ml / "secondary", identifier, what="sourceIdentifier"),
                    self.state_root,
                    self.record["region"],
                    s3,
                )
                secondary[identifier] = extra.folder
                self.record["secondarySourceVersions"].append(
                    {"sourceIdentifier": identifier, "sourceVersion": extra.resolved_version}
                )
        except sources.SourceError as error:
            raise BuildFailed("CLIENT_ERROR", str(error)) from error
        self.log(f"[Container] Downloaded source {kind} {location} {self.record.get('resolvedSourceVersion', '')}")
        return ml / "src", secondary

    def _load_buildspec(self, src: Path) -> buildspec.Buildspec:
        declared = self.request.get("buildspecOverride") or (self.project.get("source") or {}).get("buildspec") or ""
        if "\n" in declared or declared.lstrip().startswith("version"):
            text, origin = declared, "inline buildspec"
        else:
            relative = declared or "buildspec.yml"
            try:
                path = contained(src, relative, what="buildspec")
            except PathEscape:
                path = None
            if path is None or not path.is_file():
                raise BuildFailed(
                    "YAML_FILE_ERROR",
                    f"YAML_FILE_ERROR: stat {relative}: no such file or directory "
                    "in the source; add it to the repository or set the project's buildspec",
                )
            text, origin = path.read_text(), relative
        try:
            return buildspec.parse(text, origin)
        except buildspec.BuildspecError as error:
            raise BuildFailed("YAML_FILE_ERROR", f"YAML_FILE_ERROR: {error}") from error

    def _codebuild_variables(self, secondary: dict[str, Path]) -> dict[str, str]:
        record = self.record
        env = {
            **self.client_env,
            "CODEBUILD_BUILD_ID": record["id"],
            "CODEBUILD_BUILD_ARN": record["arn"],
            "CODEBUILD_BUILD_NUMBER": str(record["buildNumber"]),
            "CODEBUILD_INITIATOR": record["initiator"],
            "CODEBUILD_SRC_DIR": f"{MOUNT}/src",
            "CODEBUILD_SOURCE_VERSION": record.get("sourceVersion", ""),
            "CODEBUILD_RESOLVED_SOURCE_VERSION": record.get("resolvedSourceVersion", ""),
            "CODEBUILD_START_TIME": str(int(record["startTime"] * 1000)),
            "CODEBUILD_BUILD_IMAGE": self.project.get("environment", {}).get("image", ""),
            "CODEBUILD_KMS_KEY_ID": record.get("encryptionKey", ""),
            "CODEBUILD_LOG_PATH": record["logs"].get("streamName", ""),
            "CODEBUILD_PROJECT_ARN": self.project.get("arn", ""),
            "CODEBUILD_CI": "true",
            "PIP_NO_INDEX": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
        for identifier in secondary:
            env[f"CODEBUILD_SRC_DIR_{identifier}"] = f"{MOUNT}/secondary/{identifier}"
        return env

    def _run_program(self, ml: Path, program: str, env: dict[str, str]) -> dict[str, str]:
        exported: dict[str, str] = {}
        current: list[str] = []
        timeout = float(self.project.get("timeoutInMinutes") or 60) * 60
        argv = ["bash", program]
        with self.lock:
            if self._stop_reason:
                return exported
            self._process = sandbox.spawn(
                ml,
                argv,
                env,
                workdir=f"{MOUNT}/src",
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        watchdog = threading.Timer(timeout, lambda: self.stop("TIMED_OUT"))
        watchdog.daemon = True
        watchdog.start()
        assert self._process.stdout is not None
        exit_code = None
        try:
            for raw in self._process.stdout:
                line = raw.rstrip("\n")
                if not line.startswith(script.MARK):
                    self.log(line)
                    continue
                words = line[len(script.MARK) :].split()
                if words[0] == "PHASE_START":
                    current[:] = [words[1]]
                    self._phase(SCRIPT_PHASES[words[1]])
                elif words[0] == "COMMAND_FAILED":
                    self._failed_command = {"phase": words[1], "index": int(words[2]), "code": int(words[3])}
                elif words[0] == "PHASE_END":
                    self._end_script_phase(words[1], int(words[2]))
                    current.clear()
                elif words[0] == "EXPORT":
                    exported[words[1]] = base64.b64decode(words[2]).decode() if len(words) > 2 else ""
                elif words[0] == "EXIT":
                    exit_code = int(words[1])
        finally:
            code = self._process.wait()
            watchdog.cancel()
        if self._stop_reason:
            self._fail_current(
                self._stop_reason,
                f"Build {self._stop_reason.lower().replace('_', ' ')}",
                status=self._stop_reason,
            )
            return exported
        if current:  # the shell exited in the middle of a phase (``exit`` in a command, or killed)
            code = exit_code if exit_code is not None else code
            self._failed_command = self._failed_command or {"phase": current[0], "index": None, "code": code}
            self._end_script_phase(current[0], code or 1)
        return exported

    def _end_script_phase(self, phase: str, code: int) -> None:
        if code == 0:
            with self.lock:
                self._end_current("SUCCEEDED")
                self.save(self.record)
            return
        self._phase_failed = True
        failed = self._failed_command or {"index": None, "code": code}
        command = self._command_text(phase, failed.get("index"))
        message = f"Error while executing command: {command}. Reason: exit status {failed['code']}"
        tail = self.tail()
        if tail:
            message += f"\nLast output:\n{tail}"
        self._fail_current("COMMAND_EXECUTION_ERROR", message)
        self._failed_command = None

    def _command_text(self, phase_name: str, index: int | None) -> str:
        phase = next((p for p in self.spec.phases if p.name == phase_name), None) if self.spec else None
        if phase is None or index is None:
            return f"(the shell exited during phase {phase_name})"
        commands = phase.commands + phase.finally_commands
        return commands[index].strip() if index < len(commands) else f"(phase {phase_name})"

    def _upload_artifacts(self, spec: buildspec.Buildspec, src: Path) -> None:
        primary = self.request.get("artifactsOverride") or self.project.get("artifacts") or {"type": "NO_ARTIFACTS"}
        targets = [(primary, spec.artifacts, "artifacts")]
        secondary_specs = spec.secondary_artifacts
        for item in self.request.get("secondaryArtifactsOverride") or self.project.get("secondaryArtifacts") or []:
            identifier = item.get("artifactIdentifier", "")
            if identifier not in secondary_specs:
                raise BuildFailed(
                    "CLIENT_ERROR",
                    f"secondary artifact {identifier!r} is not defined in the buildspec's "
                    f"artifacts.secondary-artifacts (defined: {sorted(secondary_specs)})",
                )
            targets.append((item, secondary_specs[identifier], f"artifacts.secondary-artifacts.{identifier}"))
        for destination, artifact_spec, where in targets:
            if destination.get("type") in ("NO_ARTIFACTS", "CODEPIPELINE") or not destination.get("location"):
                continue
            if artifact_spec is None:
                raise BuildFailed(
                    "CLIENT_ERROR",
                    f"the project uploads artifacts but the buildspec has no {where} section: add artifacts.files",
                )
            try:
                files = artifacts.collect(artifact_spec, src, owned=src.parent, log=self.log)
            except artifacts.ArtifactError as error:
                raise BuildFailed("CLIENT_ERROR", str(error)) from error
            location = self._upload(destination, artifact_spec, files)
            entry = {"location": location}
            if destination is primary:
                self.record["artifacts"] = entry
            else:
                self.record["secondaryArtifacts"].append(
                    {**entry, "artifactIdentifier": destination["artifactIdentifier"]}
                )
            self.log(f"[Container] Uploaded {len(files)} artifact file(s) to {location}")

    def _upload(self, destination: dict[str, Any], spec, files: list[tuple[Path, str]]) -> str:
        bucket = destination["location"]
        name = destination.get("name") or spec.name or self.record["projectName"]
        parts = [destination.get("path", "").strip("/")]
        if destination.get("namespaceType") == "BUILD_ID":
            parts.append(self.record["id"].split(":", 1)[1])
        s3 = self.client("s3")
        if destination.get("packaging", "NONE") == "ZIP":
            key = "/".join(p for p in [*parts, name] if p)
            archive = artifacts.zip_files(files, self.folder / "artifact.zip")
            s3.upload_file(str(archive), bucket, key)
            return f"arn:aws:s3:::{bucket}/{key}"
        prefix = "/".join(p for p in [*parts, name] if p)
        for path, archive_name in files:
            s3.upload_file(str(path), bucket, f"{prefix}/{archive_name}")
        return f"arn:aws:s3:::{bucket}/{prefix}"

    def _reports(self, spec: buildspec.Buildspec, src: Path) -> None:
        self.record.setdefault("reports", [])
        for report_spec in spec.reports:
            cases, problems = reports.parse(report_spec, src)
            for problem in problems:
                self.log(f"[Container] {problem}")
            totals = reports.summary(cases)
            self.record["reports"].append({"name": report_spec.name, "testCases": cases, "testSummary": totals})
            self.log(f"[Container] Report {report_spec.name}: {totals['total']} test case(s) {totals['statusCounts']}")
