"""Small models for endpoint deployment tests: each answers with its tag and the instance that served.

A tagged model's inference script loads ``tag.json`` from the model folder and draws a token when
its server loads it, so an answer says which model (blue, green) and which instance (model server
process) answered, the way a user tells two deployed models apart by their predictions.
"""

from __future__ import annotations

import json
import tarfile
import threading
import time
from collections import Counter
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ROLE = "arn:aws:iam::123456789012:role/model-execution"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
SERVING_ENV = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
BUCKET = "tagged-models"

SCRIPT = """
import json, os, time, uuid


def model_fn(model_dir):
    with open(os.path.join(model_dir, "tag.json")) as f:
        tag = json.load(f)
    return {"model": tag["model"], "instance": uuid.uuid4().hex, "delay": tag.get("delay", 0.0)}


def input_fn(body, content_type):
    return body


def predict_fn(data, model):
    if model["delay"]:
        time.sleep(model["delay"])
    return {"model": model["model"], "instance": model["instance"]}


def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
"""


def upload_tagged_model(s3, folder: Path, tag: str, delay: float = 0.0) -> str:
    """A model.tar.gz whose answers name ``tag``; returns its S3 URI."""
    content = folder / tag
    (content / "code").mkdir(parents=True)
    (content / "tag.json").write_text(json.dumps({"model": tag, "delay": delay}))
    (content / "code" / "inference.py").write_text(SCRIPT)
    archive = folder / f"{tag}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(content.rglob("*")):
            tar.add(path, arcname=path.relative_to(content).as_posix(), recursive=False)
    try:
        s3.create_bucket(Bucket=BUCKET)
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.upload_file(str(archive), BUCKET, f"{tag}/model.tar.gz")
    return f"s3://{BUCKET}/{tag}/model.tar.gz"


def make_config(sm, name: str, artifact: str, instances: int = 1, variant: str = "AllTraffic") -> str:
    """A model and an endpoint configuration serving ``artifact`` on ``instances`` instances."""
    sm.create_model(
        ModelName=f"{name}-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": artifact, "Environment": SERVING_ENV},
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": f"{name}-model",
                "InitialInstanceCount": instances,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            }
        ],
    )
    return name


def wait_status(sm, name: str, statuses=("InService", "Failed"), timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] in statuses or time.monotonic() > deadline:
            return described
        time.sleep(0.05)


def runtime_client(url: str):
    """No retries: a failed invocation must show as a failure."""
    return boto3.client(
        "sagemaker-runtime", endpoint_url=url, region_name="us-east-1", config=Config(retries={"max_attempts": 1})
    )


def ask(runtime, name: str) -> dict:
    response = runtime.invoke_endpoint(EndpointName=name, Body=b"{}", ContentType="application/json")
    return json.loads(response["Body"].read())


class Load:
    """A few threads invoking the endpoint back to back; what answered and what failed, over time."""

    def __init__(self, url: str, name: str, threads: int = 3):
        self.runtime = runtime_client(url)
        self.name = name
        self.answers: list[tuple[float, str, str]] = []  # (monotonic time, model, instance)
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=70)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                answer = ask(self.runtime, self.name)
            except (ClientError, BotoCoreError) as error:
                with self._lock:
                    self.failures.append(repr(error))
                continue
            with self._lock:
                self.answers.append((time.monotonic(), answer["model"], answer["instance"]))

    def models_between(self, start: float, end: float) -> Counter:
        with self._lock:
            return Counter(model for at, model, _ in self.answers if start <= at <= end)

    def instances_between(self, start: float, end: float) -> set[str]:
        with self._lock:
            return {instance for at, _, instance in self.answers if start <= at <= end}


ALARM_NAMESPACE = "Deployments/Test"


def put_breachable_alarm(cloudwatch, name: str) -> None:
    """An alarm on a test metric of its own: one datapoint of 1 or more in a 10 s period breaches it."""
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace=ALARM_NAMESPACE,
        MetricName=name,
        Statistic="Sum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )


class AlarmTrip:
    """Keeps an alarm in ALARM while it runs: breaching data for alarms that evaluate, and
    SetAlarmState for the moment until an evaluation (as a user would force it)."""

    def __init__(self, cloudwatch, name: str):
        self.cloudwatch = cloudwatch
        self.name = name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> AlarmTrip:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.cloudwatch.put_metric_data(
                Namespace=ALARM_NAMESPACE, MetricData=[{"MetricName": self.name, "Value": 10.0}]
            )
            self.cloudwatch.set_alarm_state(AlarmName=self.name, StateValue="ALARM", StateReason="test: breaching")
            self._stop.wait(0.05)
