"""A large CSV landed under a project's data/ prefix: the data-arrival trigger to a registered model.

Makes a CSV of about --mb MB (default 500) from scikit-learn's breast cancer data: rows drawn
with a seeded generator and every feature jittered by 5% of its spread, so it is the same file on
every run and nothing is downloaded. Then, on that file, side by side:

- raw: the three ModelBuild step scripts run directly on the seed image's Python
  (bench/modelbuild_steps.py), as one SageMaker job each would run them;
- local cloud: a project with DataArrivalTrigger on, on a fresh in-process local cloud. Once its
  creation runs have ended, the CSV is uploaded under data/ with boto3's upload_file (multipart),
  and the clock runs from the upload's end (the object landed) to the model package registered:
  EventBridge -> CodePipeline -> CodeBuild (the seed's buildspec) -> SageMaker pipeline.

Prints both, the pipeline's steps, and the ratio of the second to the first. Target: at most 1.5.

    python bench/data_arrival.py [--mb 500]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.modelbuild_steps import image_python, run_once  # noqa: E402
from localcloud.core.server import LocalCloud  # noqa: E402
from localcloud.tools.demo import synth_if_stale  # noqa: E402
from localcloud.tools.lifecycle import Lifecycle  # noqa: E402
from localcloud.tools.publish import publish  # noqa: E402

TARGET = 1.5
ROWS_PER_CHUNK = 100_000


def write_csv(path: Path, megabytes: int) -> int:
    """Write about ``megabytes`` MB of jittered breast cancer rows to ``path``; returns the row count."""
    bunch = datasets.load_breast_cancer()
    columns = [name.replace(" ", "_") for name in bunch.feature_names]
    spread = bunch.data.std(axis=0) * 0.05
    generator = np.random.default_rng(20261202)
    rows = 0
    with path.open("w") as out:
        out.write(",".join(["target", *columns]) + "\n")
        while out.tell() < megabytes * 1_000_000:
            picked = generator.integers(0, len(bunch.target), ROWS_PER_CHUNK)
            features = bunch.data[picked] + generator.normal(0.0, spread, (ROWS_PER_CHUNK, len(columns)))
            chunk = pd.DataFrame(features.round(5), columns=columns)
            chunk.insert(0, "target", bunch.target[picked])
            chunk.to_csv(out, header=False, index=False)
            rows += ROWS_PER_CHUNK
    return rows


def raw_scripts(dataset: Path) -> tuple[dict[str, float], float]:
    with tempfile.TemporaryDirectory(prefix="opt_ml_") as scratch:
        return run_once(Path(scratch), dataset=dataset, python=image_python())


def through_the_trigger(dataset: Path) -> tuple[float, float, dict[str, float]]:
    """Upload time, landed -> registered time, and the SageMaker pipeline's step times."""
    with tempfile.TemporaryDirectory(prefix="localcloud-state-") as state:
        cloud = LocalCloud(Path(state)).start()
        os.environ.update(cloud.client_environment())
        try:
            synth_if_stale()
            publish(ROOT / "cdk.out", cloud.url, state=cloud.state.root)
            life = Lifecycle(cloud.client)
            project = life.create_project("arrival", {"DataArrivalTrigger": "true"})
            for pipeline in (project.modelbuild_pipeline, project.modeldeploy_pipeline):
                first = life.creation_run(pipeline)
                life.wait_for_run_end(pipeline, first["pipelineExecutionId"], timeout=900)
            s3 = cloud.client("s3")
            started = time.time()
            s3.upload_file(str(dataset), project.bucket, f"data/{dataset.name}")
            landed = time.time()
            run = life.wait_for_execution(project.modelbuild_pipeline, landed, timeout=3600)
            listed = cloud.client("codepipeline").list_pipeline_executions(pipelineName=project.modelbuild_pipeline)
            runs = listed["pipelineExecutionSummaries"]
            started_by_landing = [e for e in runs if e["startTime"].timestamp() > started]
            if len(started_by_landing) != 1:
                sys.exit(f"one landing started {len(started_by_landing)} ModelBuild runs, not one")
            package = life.wait_for_package(project.group, landed, timeout=60)
            registered = package["CreationTime"].timestamp()
            marks = {"ModelBuild run started": run["startTime"].timestamp(), **build_marks(cloud, project, run)}
            marks["model package registered"] = registered
            steps = {f"{name} (after landing)": at - landed for name, at in sorted(marks.items(), key=lambda m: m[1])}
            return landed - started, registered - landed, {**steps, **pipeline_steps(cloud, project)}
        finally:
            cloud.stop()


def build_marks(cloud, project, run: dict) -> dict[str, float]:
    """When the run's source was fetched, its build began and ended, and its SageMaker execution began and ended."""
    details = cloud.client("codepipeline").list_action_executions(
        pipelineName=project.modelbuild_pipeline, filter={"pipelineExecutionId": run["pipelineExecutionId"]}
    )["actionExecutionDetails"]
    [source] = [d for d in details if d["stageName"] == "Source"]
    [build] = [d for d in details if d["stageName"] == "Build"]
    sagemaker = cloud.client("sagemaker")
    executions = sagemaker.list_pipeline_executions(PipelineName=project.sagemaker_pipeline)
    newest = sagemaker.describe_pipeline_execution(
        PipelineExecutionArn=executions["PipelineExecutionSummaries"][0]["PipelineExecutionArn"]
    )
    return {
        "source fetched": source["lastUpdateTime"].timestamp(),
        "build started": build["startTime"].timestamp(),
        "SageMaker execution started": newest["CreationTime"].timestamp(),
        "SageMaker execution ended": newest["LastModifiedTime"].timestamp(),
        "build ended": build["lastUpdateTime"].timestamp(),
    }


def pipeline_steps(cloud, project) -> dict[str, float]:
    sagemaker = cloud.client("sagemaker")
    newest = sagemaker.list_pipeline_executions(PipelineName=project.sagemaker_pipeline)["PipelineExecutionSummaries"][
        0
    ]
    listed = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=newest["PipelineExecutionArn"])
    return {
        step["StepName"]: (step["EndTime"] - step["StartTime"]).total_seconds()
        for step in reversed(listed["PipelineExecutionSteps"])
        if "EndTime" in step
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=500, help="size of the landed CSV in MB")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="landed-") as folder:
        dataset = Path(folder) / "landed.csv"
        rows = write_csv(dataset, args.mb)
        size = dataset.stat().st_size / 1e6
        print(f"landed CSV: {size:.0f} MB, {rows:,} rows (breast cancer, resampled and jittered)")
        raw_times, accuracy = raw_scripts(dataset)
        upload, landed_to_registered, steps = through_the_trigger(dataset)
    raw = sum(raw_times.values())
    print(f"  raw step scripts             {raw:7.1f} s  (test accuracy {accuracy:.4f})")
    for name, seconds in raw_times.items():
        print(f"    {name:<26}{seconds:7.1f} s")
    print(f"  upload (upload_file)         {upload:7.1f} s  ({size / upload:.0f} MB/s)")
    print(f"  landed -> registered         {landed_to_registered:7.1f} s")
    for name, seconds in steps.items():
        print(f"    {name:<46}{seconds:7.1f} s")
    ratio = landed_to_registered / raw
    print(f"  ratio                        {ratio:7.2f}  (target <= {TARGET})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
