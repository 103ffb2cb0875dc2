"""How much the local cloud adds to a pipeline run: its wall time against the raw step scripts'.

Runs the three ModelBuild step scripts directly (bench/modelbuild_steps.py), then the real
ModelBuild pipeline on an in-process local cloud (sandboxed jobs, S3 transfers, scheduling), the
same number of times each, alternating so that machine load hits both alike, and prints the best
of each and their ratio. Target: at most 1.5.

    python bench/pipeline_overhead.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.modelbuild_steps import run_once  # noqa: E402
from localcloud.core.server import LocalCloud  # noqa: E402
from tests.localcloud import modelbuild_pipeline as mb  # noqa: E402

TARGET = 1.5


def time_pipeline(sagemaker) -> tuple[float, dict[str, float]]:
    started = time.perf_counter()
    arn = mb.start(sagemaker)
    while sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Executing":
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    steps = mb.steps(sagemaker, arn)
    failed = [name for name, step in steps.items() if step["StepStatus"] != "Succeeded"]
    if failed:
        sys.exit(f"pipeline steps failed: {failed}: {[steps[n].get('FailureReason') for n in failed]}")
    return elapsed, {name: (s["EndTime"] - s["StartTime"]).total_seconds() for name, s in steps.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as state:
        cloud = LocalCloud(Path(state)).start()
        os.environ.update(cloud.client_environment())
        try:
            sagemaker = cloud.client("sagemaker")
            mb.upsert(sagemaker, cloud.client("s3"))
            raw, local, per_step = [], [], {}
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory() as scratch:
                    times, _ = run_once(Path(scratch))
                raw.append(sum(times.values()))
                elapsed, step_times = time_pipeline(sagemaker)
                if not local or elapsed < min(local):
                    per_step = step_times
                local.append(elapsed)
        finally:
            cloud.stop()
    ratio = min(local) / min(raw)
    print(f"ModelBuild pipeline, best of {args.repeat}:")
    print(f"  raw step scripts      {min(raw):6.2f} s")
    print(f"  local cloud pipeline  {min(local):6.2f} s")
    for name, seconds in per_step.items():
        print(f"    {name:<20}{seconds:6.2f} s")
    print(f"  ratio                 {ratio:6.2f}  (target <= {TARGET})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
