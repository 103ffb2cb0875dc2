"""Models a user registers by hand for deployment guardrail tests, and the steady load they serve.

A package here is what a data scientist would register next to the pipeline's own: a model.tar.gz
with ``model.joblib`` and ``code/inference.py`` (the seed's serving script, or a variant of it), in
the model package group, with the inference specification and metadata of a package the ModelBuild
pipeline registered (so the seed's staging test finds its test split and quality gate).

"Field rows" are rows of the test split with the first feature's sign flipped: a good model answers
them like any row; the bad models here misbehave on them (an error, or a slow answer), as a model
does that meets production data its staging test never sent.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import joblib
import numpy as np
import pandas as pd
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

SEED_TRAINING = Path(__file__).resolve().parents[2] / "modelbuild" / "pipelines" / "scripts" / "training"
SEED_INFERENCE = SEED_TRAINING / "inference.py"

# The seed's handlers with a predict_fn that takes its time over rows with a negative value.
SLOW_ON_NEGATIVES = '''"""The seed's handlers, slowed down on rows with a negative value (a costly path they take)."""
import time

from seed_inference import input_fn, model_fn, output_fn  # noqa: F401
from seed_inference import predict_fn as _predict_fn


def predict_fn(input_data, model):
    if (input_data < 0).any():
        time.sleep(SECONDS)
    return _predict_fn(input_data, model)
'''


def held_out_rows(cloud, package_arn: str) -> pd.DataFrame:
    """The held-out rows the pipeline recorded on its package (features and ``target``)."""
    metadata = cloud.client("sagemaker").describe_model_package(ModelPackageName=package_arn)[
        "CustomerMetadataProperties"
    ]
    bucket, _, key = metadata["TestDataS3Uri"][len("s3://") :].partition("/")
    return pd.read_csv(io.BytesIO(cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()))


def logistic(rows: pd.DataFrame, c: float, log_features: bool = False) -> Pipeline:
    """A classifier fitted on ``rows``; ``log_features`` puts log1p in front, which is NaN for values below -1."""
    steps = [("log", FunctionTransformer(np.log1p))] if log_features else []
    steps += [("scale", StandardScaler()), ("classify", LogisticRegression(C=c, max_iter=5000))]
    return Pipeline(steps).fit(rows.drop(columns="target"), rows["target"])


def register(cloud, project, template_arn: str, model, folder: Path, tag: str, slow_seconds: float = 0.0) -> str:
    """Upload ``model`` with the seed's inference script (slowed down on negative rows when asked) and
    register it in the project's group, shaped like the package at ``template_arn``."""
    content = folder / tag
    (content / "code").mkdir(parents=True)
    joblib.dump(model, content / "model.joblib")
    seed = SEED_INFERENCE.read_text()
    if slow_seconds:
        (content / "code" / "seed_inference.py").write_text(seed)
        (content / "code" / "inference.py").write_text(SLOW_ON_NEGATIVES.replace("SECONDS", repr(slow_seconds)))
    else:
        (content / "code" / "inference.py").write_text(seed)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for path in sorted(content.rglob("*")):
            tar.add(path, arcname=path.relative_to(content).as_posix(), recursive=False)
    key = f"by-hand/{tag}/model.tar.gz"
    cloud.client("s3").put_object(Bucket=project.bucket, Key=key, Body=archive.getvalue())
    sagemaker = cloud.client("sagemaker")
    template = sagemaker.describe_model_package(ModelPackageName=template_arn)
    inference = template["InferenceSpecification"]
    inference["Containers"][0]["ModelDataUrl"] = f"s3://{project.bucket}/{key}"
    extra = {"ModelMetrics": template["ModelMetrics"]} if template.get("ModelMetrics") else {}
    return sagemaker.create_model_package(
        ModelPackageGroupName=project.group,
        ModelPackageDescription=f"registered by hand: {tag}",
        InferenceSpecification=inference,
        CustomerMetadataProperties=template["CustomerMetadataProperties"],
        **extra,
    )["ModelPackageArn"]


def csv_row(values) -> str:
    return ",".join(repr(float(v)) for v in values)


def field_row(values) -> list[float]:
    """A row as production may send it: the first feature's sign flipped."""
    row = [float(v) for v in values]
    row[0] = -row[0]
    return row


@dataclass
class Answer:
    at: float  # monotonic
    row: int  # index into the load's rows
    probabilities: list[float] | None  # None for a failure
    error: str | None = None
    seconds: float = 0.0


@dataclass
class SteadyLoad:
    """``rate`` single-row requests per second from a few boto3 threads (no retries), cycling through
    ``rows``; every answer kept, so a test can tell which model gave it."""

    url: str
    endpoint: str
    rows: list[list[float]]
    rate: float = 30.0
    threads: int = 3
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._next = 0
        self._workers = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.threads)]

    def __enter__(self) -> SteadyLoad:
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=90)

    def _run(self, index: int) -> None:
        runtime = boto3.client(
            "sagemaker-runtime",
            endpoint_url=self.url,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}, read_timeout=90),
        )
        due = time.monotonic() + index / self.rate
        while not self._stop.is_set():
            pause = due - time.monotonic()
            if pause > 0 and self._stop.wait(pause):
                return
            due = max(due + self.threads / self.rate, time.monotonic() - 1.0)
            with self._lock:
                row, self._next = self._next, (self._next + 1) % len(self.rows)
            began = time.monotonic()
            try:
                response = runtime.invoke_endpoint(
                    EndpointName=self.endpoint,
                    ContentType="text/csv",
                    Accept="application/json",
                    Body=csv_row(self.rows[row]),
                )
                prediction = json.loads(response["Body"].read())["predictions"][0]["probabilities"]
                answer = Answer(began, row, [prediction[k] for k in sorted(prediction)])
            except (ClientError, BotoCoreError) as error:
                answer = Answer(began, row, None, str(error))
            answer.seconds = time.monotonic() - began
            with self._lock:
                self.answers.append(answer)

    def between(self, start: float, end: float = float("inf")) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if start <= a.at <= end]


def answered_by(model, rows: list[list[float]], answer: Answer, columns: list[str]) -> bool:
    """Whether ``answer`` is what ``model`` gives for its row (to 1e-9)."""
    if answer.probabilities is None:
        return False
    try:
        expected = model.predict_proba(pd.DataFrame([rows[answer.row]], columns=columns))[0]
    except ValueError:  # a model that refuses the row (NaN from its log step) gave no answer for it
        return False
    return np.allclose(answer.probabilities, expected, rtol=0, atol=1e-9)
