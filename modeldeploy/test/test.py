"""TestStaging stage: prove the staging endpoint serves the approved model correctly.

Reads the endpoint and model package from the build's staging configuration,
waits for the endpoint to be InService, then really invokes it with the held-out
test rows the model package points to (TestDataS3Uri / TargetColumn), and checks:
  * every response follows the serving contract (text/csv and application/json requests),
  * the metric the pipeline gated the model on (accuracy for classifiers, R² for
    regressions, from the quality_gate of the package's model-quality report) reaches
    the same threshold on those rows,
  * the p95 request latency stays within the budget.
Writes a JUnit report and exits non-zero with a readable summary when a check fails.

    python test/test.py --build-config staging-config-export.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from endpoint_checks import (
    SCORES,
    EndpointNotReady,
    InvocationResults,
    invoke_in_batches,
    percentile,
    wait_for_in_service,
)
from junit_report import CheckResult, write_junit
from staging_inputs import (
    DeploymentUnderTest,
    HeldOutRows,
    InputError,
    PackageExpectations,
    load_test_rows,
    read_build_config,
    read_package_expectations,
)

SUITE = "staging-endpoint"
LATENCY_PERCENTILE = 95


@dataclass(frozen=True)
class Clients:
    sagemaker: Any
    sagemaker_runtime: Any
    s3: Any


def default_clients(region: str | None) -> Clients:
    return Clients(
        sagemaker=boto3.client("sagemaker", region_name=region),
        sagemaker_runtime=boto3.client("sagemaker-runtime", region_name=region),
        s3=boto3.client("s3", region_name=region),
    )


def parse_args(argv: list[str] | None, environ: dict[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-config", default=environ.get("BUILD_CONFIG", "staging-config-export.json"))
    parser.add_argument("--report", default="test-results.xml", help="JUnit XML report to write")
    parser.add_argument(
        "--latency-budget-ms",
        type=float,
        default=environ.get("LATENCY_BUDGET_MS", "500"),
        help="p95 per-request latency budget in milliseconds (env LATENCY_BUDGET_MS)",
    )
    parser.add_argument(
        "--timeout-seconds",
        type=float,
        default=environ.get("ENDPOINT_WAIT_TIMEOUT_SECONDS", "1800"),
        help="how long to wait for InService (env ENDPOINT_WAIT_TIMEOUT_SECONDS)",
    )
    parser.add_argument("--poll-seconds", type=float, default=15.0, help="pause between status checks")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=environ.get("INVOKE_BATCH_SIZE", "10"),
        help="CSV rows per invoke_endpoint request (env INVOKE_BATCH_SIZE)",
    )
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.latency_budget_ms <= 0:
        parser.error(f"--latency-budget-ms must be positive, got {args.latency_budget_ms:g}")
    return args


class StagingTest:
    """Runs the checks in order; a check that cannot run because an earlier one failed is skipped."""

    def __init__(self, args: argparse.Namespace, clients: Clients, clock: Callable[[], float] = time.perf_counter):
        self.args = args
        self.clients = clients
        self.clock = clock
        self.results: list[CheckResult] = []
        self.deployment: DeploymentUnderTest | None = None
        self.expectations: PackageExpectations | None = None
        self.rows: HeldOutRows | None = None
        self.csv_results: InvocationResults | None = None
        self.latencies_ms: list[float] = []

    def run(self) -> list[CheckResult]:
        checks = [
            ("test inputs are readable", self.check_inputs),
            ("endpoint is InService", self.check_in_service),
            ("responses follow the serving contract", self.check_responses),
            ("quality reaches the package's threshold", self.check_quality),
            (f"p{LATENCY_PERCENTILE} latency is within budget", self.check_latency),
        ]
        blocked_by = None
        for name, check in checks:
            if blocked_by is not None:
                self.results.append(CheckResult(name, 0.0, "", skipped=f"not run: {blocked_by!r} failed"))
                continue
            started = self.clock()
            try:
                detail = check()
            except CheckFailed as failure:
                self.results.append(CheckResult(name, self.clock() - started, failure.detail, failure=str(failure)))
                if failure.blocking:
                    blocked_by = name
            else:
                self.results.append(CheckResult(name, self.clock() - started, detail))
        return self.results

    def check_inputs(self) -> str:
        try:
            self.deployment = read_build_config(self.args.build_config)
            self.expectations = read_package_expectations(
                self.clients.sagemaker, self.clients.s3, self.deployment.model_package_arn
            )
            self.rows = load_test_rows(
                self.clients.s3, self.expectations.test_data_uri, self.expectations.target_column
            )
        except InputError as error:
            raise CheckFailed(str(error), blocking=True) from None
        gate = self.expectations.gate
        return (
            f"endpoint {self.deployment.endpoint_name}, model package {self.deployment.model_package_arn}, "
            f"{len(self.rows.targets)} rows from {self.expectations.test_data_uri} "
            f"(target column {self.expectations.target_column!r}), {gate.problem_type} gated on {gate.metric}"
        )

    def check_in_service(self) -> str:
        try:
            wait_for_in_service(
                self.clients.sagemaker,
                self.deployment.endpoint_name,
                timeout_seconds=self.args.timeout_seconds,
                poll_seconds=self.args.poll_seconds,
            )
        except EndpointNotReady as error:
            raise CheckFailed(str(error), blocking=True) from None
        return f"{self.deployment.endpoint_name} is InService"

    def check_responses(self) -> str:
        runtime, endpoint, rows = self.clients.sagemaker_runtime, self.deployment.endpoint_name, self.rows
        regression, batch = self.expectations.gate.regression, self.args.batch_size
        self.csv_results = invoke_in_batches(runtime, endpoint, rows.features, batch, "text/csv", regression=regression)
        first_batch = rows.features[:batch]
        json_results = invoke_in_batches(
            runtime, endpoint, first_batch, len(first_batch), "application/json", regression=regression
        )
        self.latencies_ms = self.csv_results.latencies_ms + json_results.latencies_ms
        problems = self.csv_results.problems + json_results.problems
        csv_answers = self.csv_results.predictions[: len(first_batch)]
        comparable = not json_results.problems and None not in csv_answers
        if comparable and not same_answers(json_results.predictions, csv_answers):
            problems.append(
                "the same rows got different answers as application/json than as text/csv: "
                f"{json_results.predictions} vs {csv_answers}"
            )
        requests = self.csv_results.requests + json_results.requests
        if problems:
            shown = "\n".join(problems[:10]) + (f"\n... and {len(problems) - 10} more" if len(problems) > 10 else "")
            raise CheckFailed(f"{len(problems)} of {requests} requests broke the serving contract:\n{shown}")
        return f"{len(rows.features)} rows in {requests} requests (text/csv and application/json)"

    def check_quality(self) -> str:
        if self.csv_results is None:
            raise CheckFailed("no predictions to score")
        gate = self.expectations.gate
        answered = sum(1 for answer in self.csv_results.predictions if answer is not None)
        try:
            measured = SCORES[gate.metric](self.csv_results.predictions, self.rows.targets)
        except ValueError as error:
            raise CheckFailed(f"cannot compute {gate.metric}: {error}") from None
        summary = (
            f"{gate.metric} {measured:.4f} on {len(self.rows.targets)} rows ({answered} answered), "
            f"threshold {gate.threshold} ({gate.threshold_parameter})"
        )
        if measured < gate.threshold:
            raise CheckFailed(f"{summary}: below the threshold", detail=summary)
        return summary

    def check_latency(self) -> str:
        if not self.latencies_ms:
            raise CheckFailed("no request succeeded, so no latency to measure")
        p95 = percentile(self.latencies_ms, LATENCY_PERCENTILE)
        budget = self.args.latency_budget_ms
        summary = (
            f"p{LATENCY_PERCENTILE} {p95:.1f} ms over {len(self.latencies_ms)} requests "
            f"(max {max(self.latencies_ms):.1f} ms), budget {budget:g} ms"
        )
        if p95 > budget:
            raise CheckFailed(f"{summary}: over budget (raise LATENCY_BUDGET_MS only if the slowness is expected)")
        return summary


def same_answers(first: list, second: list) -> bool:
    """Equal labels, or values equal to within float noise (JSON and CSV carry numbers differently)."""
    return len(first) == len(second) and all(
        a == b if isinstance(a, int) and isinstance(b, int) else abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
        for a, b in zip(first, second, strict=True)
    )


class CheckFailed(Exception):
    def __init__(self, message: str, blocking: bool = False, detail: str = ""):
        super().__init__(message)
        self.blocking = blocking
        self.detail = detail or message


def summary_text(results: list[CheckResult]) -> str:
    lines = [f"Staging endpoint test: {len(results)} checks"]
    for result in results:
        if result.passed:
            lines.append(f"  PASS  {result.name}: {result.detail}")
        elif result.failure is not None:
            first, *rest = result.failure.splitlines()
            lines.append(f"  FAIL  {result.name}: {first}")
            lines.extend(f"          {line}" for line in rest)
        else:
            lines.append(f"  SKIP  {result.name}: {result.skipped}")
    failed = [result for result in results if not result.passed]
    lines.append("RESULT: " + ("PASSED" if not failed else f"FAILED ({len(failed)} of {len(results)} checks)"))
    return "\n".join(lines)


def main(argv: list[str] | None = None, environ: dict[str, str] | None = None, clients: Clients | None = None) -> int:
    environ = dict(os.environ if environ is None else environ)
    args = parse_args(argv, environ)
    if clients is None:
        clients = default_clients(environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION"))
    results = StagingTest(args, clients).run()
    write_junit(args.report, SUITE, results)
    print(summary_text(results))
    print(f"JUnit report: {args.report}")
    return 0 if all(result.passed for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
