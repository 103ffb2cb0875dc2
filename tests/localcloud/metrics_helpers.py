"""What the CloudWatch and scaling tests share: a model whose answers the request chooses, an
endpoint serving it, and reading a metric's statistics back as a user would."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.localcloud.test_endpoints import IMAGE, SERVING_ENV, create_endpoint, make_archive

# send() encodes a word as a JSON number the default input_fn decodes: "ok" answers 200, "fail" 500, "slow"
# 200 after 60 ms; "bad" goes as text/plain, which the container's default input_fn answers with 415 (a 4xx)
SCRIPTED_MODEL = """
import time


def model_fn(model_dir):
    return "scripted"


def predict_fn(data, model):
    code = int(float(data.ravel()[0]))
    if code == 1:
        raise RuntimeError("the model broke")
    if code == 2:
        time.sleep(0.06)
    return {"echo": code}
"""


def scripted_model_url(s3, bucket: str, folder: Path) -> str:
    script = folder / "inference.py"
    script.write_text(SCRIPTED_MODEL)
    archive = make_archive(folder / "archive", model=None, script=script)
    s3.upload_file(str(archive), bucket, "scripted/model.tar.gz")
    return f"s3://{bucket}/scripted/model.tar.gz"


def scripted_endpoint(local, name: str, model_url: str, variants: tuple[str, ...] = ("AllTraffic",)) -> str:
    container = {"Image": IMAGE, "ModelDataUrl": model_url, "Environment": SERVING_ENV}
    description = create_endpoint(local, name, [(variant, container, 1.0) for variant in variants])
    assert description["EndpointStatus"] == "InService", description.get("FailureReason")
    return name


WORDS = {"ok": 0, "fail": 1, "slow": 2}


def send(runtime, endpoint: str, word: str, variant: str | None = None) -> int:
    """One invocation; returns the HTTP status the caller saw (424 for a model error)."""
    extra = {"TargetVariant": variant} if variant else {}
    content_type = "text/plain" if word == "bad" else "application/json"
    try:
        body = json.dumps([WORDS.get(word, 0)])
        runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType=content_type, **extra)
        return 200
    except runtime.exceptions.ModelError:
        return 424


def statistics(cloudwatch, metric: str, dimensions: dict[str, str], period: int = 3600, **kinds) -> list[dict]:
    """Every datapoint of the last hour (wall clock), oldest first."""
    now = datetime.now(UTC)
    answer = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5),
        Period=period,
        **(kinds or {"Statistics": ["Sum", "SampleCount", "Minimum", "Maximum"]}),
    )
    return sorted(answer["Datapoints"], key=lambda point: point["Timestamp"])


def total(cloudwatch, metric: str, dimensions: dict[str, str], statistic: str = "Sum") -> float:
    return sum(point[statistic] for point in statistics(cloudwatch, metric, dimensions))


def wait_for(condition, timeout: float = 30.0, step: float = 0.05):
    """Poll ``condition`` until it returns something truthy; that value, or the last one at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


class TimeScale:
    """Set LOCALCLOUD_TIME_SCALE for a module's local clouds and put the old value back after."""

    def __init__(self, scale: float):
        self.scale = scale
        self.saved = os.environ.get("LOCALCLOUD_TIME_SCALE")

    def __enter__(self):
        os.environ["LOCALCLOUD_TIME_SCALE"] = str(self.scale)
        return self

    def __exit__(self, *exc):
        if self.saved is None:
            os.environ.pop("LOCALCLOUD_TIME_SCALE", None)
        else:
            os.environ["LOCALCLOUD_TIME_SCALE"] = self.saved


def put_sum_alarm(cloudwatch, name: str, namespace: str, metric: str, dimensions: dict | None = None, **overrides):
    """A metric alarm on the Sum per minute reaching 1 in one period; ``overrides`` change any setting."""
    cloudwatch.put_metric_alarm(
        **{
            "AlarmName": name,
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in (dimensions or {}).items()],
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 1.0,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            **overrides,
        }
    )
