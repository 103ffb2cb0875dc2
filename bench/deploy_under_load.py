"""Deployments under a steady load: what a client of the endpoint sees while its model is replaced.

One endpoint (2 instances) takes a fixed rate of requests (50 req/s from 4 threads, boto3, no retries)
while it is updated: blue/green ALL_AT_ONCE, CANARY and LINEAR and a rolling update (one instance a
batch; its second batch's start counts as shifting) to good models, then a CANARY to a bad model (it
refuses one request in four with a 5XX) whose Invocation5XXErrors alarm trips during the bake and
rolls the deployment back. Each model answers with its tag, so every answer says which
fleet served it. Last, an autoscaling row: a target tracking policy on InvocationsPerInstance takes
the endpoint from 2 to 4 instances under the load, and back to 2 when the load drops to a trickle.

Targets (issue "deployments you can watch, with figures"): 0 failed requests for good models; p99
while traffic shifts at most 2x the steady p99; a rollback complete (no answer from the bad fleet any
more) within one scaled bake interval of its alarm going to ALARM; the only failures of a rollback are
the bad fleet's own answers; autoscaling 2 -> 4 -> 2 with 0 failed requests.

    python bench/deploy_under_load.py              # LOCALCLOUD_TIME_SCALE 60 by default (--scale)
    python bench/deploy_under_load.py --no-autoscaling --rate 30
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tarfile
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from botocore.config import Config  # noqa: E402
from botocore.exceptions import BotoCoreError, ClientError  # noqa: E402

from localcloud.core import config  # noqa: E402
from localcloud.tools import daemon  # noqa: E402

ENDPOINT = "under-load"
ROLE = "arn:aws:iam::123456789012:role/model-execution"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
SERVING_ENV = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
BUCKET = "deploy-under-load"
WATCH_SECONDS = 0.05  # how often DescribeEndpoint is asked while a phase is measured
BAKE = 600  # AWS seconds: the bad canary's WaitIntervalInSeconds, the rollback's time budget

SCRIPT = """
import json, os


def model_fn(model_dir):
    with open(os.path.join(model_dir, "tag.json")) as f:
        return json.load(f)


def input_fn(body, content_type):
    return json.loads(body)


def predict_fn(data, model):
    every = model.get("fail_every")
    if every and data["n"] % every == 0:
        raise ValueError(f"model {model['model']} refuses request {data['n']}")
    return {"model": model["model"]}


def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
"""


# the models ------------------------------------------------------------------------------------
def upload_model(s3, folder: Path, tag: str, fail_every: int | None = None) -> str:
    content = folder / tag
    (content / "code").mkdir(parents=True)
    (content / "tag.json").write_text(json.dumps({"model": tag, "fail_every": fail_every}))
    (content / "code" / "inference.py").write_text(SCRIPT)
    archive = folder / f"{tag}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(content.rglob("*")):
            tar.add(path, arcname=path.relative_to(content).as_posix(), recursive=False)
    s3.upload_file(str(archive), BUCKET, f"{tag}/model.tar.gz")
    return f"s3://{BUCKET}/{tag}/model.tar.gz"


def make_config(sm, tag: str, artifact: str, instances: int) -> str:
    sm.create_model(
        ModelName=f"{tag}-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": artifact, "Environment": SERVING_ENV},
    )
    sm.create_endpoint_config(
        EndpointConfigName=tag,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{tag}-model",
                "InitialInstanceCount": instances,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            }
        ],
    )
    return tag


def wait_for(sm, statuses=("InService", "Failed"), timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sm.describe_endpoint(EndpointName=ENDPOINT)
        if described["EndpointStatus"] in statuses:
            return described
        time.sleep(0.05)
    raise RuntimeError(f"endpoint {ENDPOINT} still {described['EndpointStatus']} after {timeout:.0f} s")


# the load --------------------------------------------------------------------------------------
@dataclass
class Answer:
    at: float  # wall-clock time the answer arrived (compared with alarm timestamps)
    seconds: float
    model: str | None  # the tag of the fleet that answered, None for a failure
    error: str | None = None


@dataclass
class Load:
    """``rate`` requests per second in total, spread over ``threads`` threads on a fixed schedule."""

    url: str
    state: Path
    rate: float
    threads: int = 4
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._counter = iter(range(1, 1 << 62))
        self._workers: list[threading.Thread] = []

    def start(self) -> Load:
        for index in range(self.threads):
            worker = threading.Thread(target=self._run, args=(index,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=30)

    def set_rate(self, rate: float) -> None:
        self.rate = rate

    def _run(self, index: int) -> None:
        runtime = _client(self.url, self.state)
        due = time.monotonic() + index / self.rate
        while not self._stop.is_set():
            pause = due - time.monotonic()
            if pause > 0 and self._stop.wait(pause):
                return
            due = max(due + self.threads / self.rate, time.monotonic() - 1.0)  # late requests do not pile up
            with self._lock:
                number = next(self._counter)
            began = time.perf_counter()
            try:
                response = runtime.invoke_endpoint(
                    EndpointName=ENDPOINT, Body=json.dumps({"n": number}), ContentType="application/json"
                )
                model, error = json.loads(response["Body"].read())["model"], None
            except (ClientError, BotoCoreError) as failure:
                model, error = None, str(failure)
            answer = Answer(time.time(), time.perf_counter() - began, model, error)
            with self._lock:
                self.answers.append(answer)

    def between(self, start: float, end: float) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if start <= a.at <= end]


def _client(url: str, state: Path):
    """A runtime client with no retries: a failed invocation must count as one."""
    import boto3

    env = config.client_environment(url, state=state)
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}, max_pool_connections=4),
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


@dataclass
class Phase:
    name: str
    answers: list[Answer]
    seconds: float
    note: str = ""
    ended: float = 0.0  # wall clock
    starting: Phase | None = None  # a deployment's two parts: the green fleet starting, then the shift
    shift: Phase | None = None
    timeline: list[tuple[float, str]] = field(default_factory=list)  # a deployment's phases, as seen

    @property
    def failed(self) -> list[Answer]:
        return [a for a in self.answers if a.model is None]

    def latency_ms(self, share: float) -> float:
        return 1000 * percentile([a.seconds for a in self.answers if a.model is not None], share)

    def row(self) -> str:
        fleets = Counter(a.model for a in self.answers if a.model is not None)
        served = ", ".join(f"{tag} {count}" for tag, count in sorted(fleets.items()))
        return (
            f"{self.name:<22} {self.seconds:6.1f} s  served {len(self.answers) - len(self.failed):5d}  "
            f"failed {len(self.failed):4d}  p50 {self.latency_ms(0.50):6.1f} ms  p99 {self.latency_ms(0.99):6.1f} ms  "
            f"fleets: {served}{('  ' + self.note) if self.note else ''}"
        )


# the deployments -------------------------------------------------------------------------------
def routing(kind: str, wait: int) -> dict:
    routes = {
        "ALL_AT_ONCE": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": wait},
        "CANARY": {
            "Type": "CANARY",
            "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
            "WaitIntervalInSeconds": wait,
        },
        "LINEAR": {
            "Type": "LINEAR",
            "LinearStepSize": {"Type": "INSTANCE_COUNT", "Value": 1},
            "WaitIntervalInSeconds": wait,
        },
    }
    return routes[kind]


def deploy(sm, load: Load, kind: str, config_name: str, wait: int, alarms: list[str] | None = None) -> Phase:
    if kind == "ROLLING":  # one instance at a time: the old one goes once the new one has baked
        deployment = {
            "RollingUpdatePolicy": {
                "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
                "WaitIntervalInSeconds": wait,
                "MaximumExecutionTimeoutInSeconds": 3600,
            }
        }
    else:
        deployment = {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": routing(kind, wait),
                "TerminationWaitInSeconds": 60,
                "MaximumExecutionTimeoutInSeconds": 3600,
            }
        }
    if alarms:
        deployment["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    began, clock_began = time.time(), time.monotonic()
    sm.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config_name, DeploymentConfig=deployment)
    shifting = None  # when the green fleet was up and traffic began to move (the first phase after Creating)
    timeline: list[tuple[float, str]] = [(began, "Creating")]  # (wall clock, phase) as DescribeEndpoint showed it
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        described = sm.describe_endpoint(EndpointName=ENDPOINT)
        if described["EndpointStatus"] in ("InService", "Failed"):
            break
        statuses = [
            s["Status"]
            for v in (described.get("PendingDeploymentSummary") or {}).get("ProductionVariants", [])
            for s in v.get("VariantStatus", [])
        ]
        if shifting is None and statuses and "Creating" not in statuses:
            shifting = time.time()
        if statuses and statuses[0] != timeline[-1][1]:
            timeline.append((time.time(), statuses[0]))
        time.sleep(WATCH_SECONDS)
    else:
        raise RuntimeError(f"the {kind} deployment to {config_name} did not finish in 300 s")
    ended = time.time()
    answers = load.between(began, ended)
    phase = Phase(f"{kind} -> {config_name}", answers, time.monotonic() - clock_began, ended=ended)
    shifting = shifting or ended
    phase.starting = Phase("  green starting", [a for a in answers if a.at < shifting], shifting - began)
    phase.shift = Phase("  traffic shifting", [a for a in answers if a.at >= shifting], ended - shifting)
    phase.note = f"ends on {described['EndpointConfigName']}"
    phase.timeline = timeline
    return phase


def watch_steadily(sm, seconds: float) -> None:
    """Describe the endpoint as often as ``deploy`` does while it watches a deployment, for ``seconds``:
    the steady figure is taken under the same watching as the shifts it is compared with (each
    DescribeEndpoint is work for the local cloud, on the cores that serve the invocations)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sm.describe_endpoint(EndpointName=ENDPOINT)
        time.sleep(WATCH_SECONDS)


def slowest(phase: Phase, count: int = 4) -> str:
    """Where a deployment's slowest answers fell: seconds after it began, and the phase it was in."""
    began = phase.timeline[0][0]
    rows = []
    for answer in sorted(phase.answers, key=lambda a: a.seconds, reverse=True)[:count]:
        sent = answer.at - answer.seconds
        label = next((name for at, name in reversed(phase.timeline) if at <= sent), "sent before the update")
        rows.append(f"{1000 * answer.seconds:.0f} ms sent at +{sent - began:.2f} s ({label})")
    return ", ".join(rows)


def put_error_alarm(cloudwatch, name: str, config_name: str) -> None:
    """The canary's guard: any 5XX from the new fleet in a minute (as a team would alarm on its canary)."""
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[
            {"Name": "EndpointName", "Value": ENDPOINT},
            {"Name": "VariantName", "Value": "AllTraffic"},
            {"Name": "EndpointConfigName", "Value": config_name},
        ],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )


def alarm_time(cloudwatch, name: str) -> float | None:
    """When the alarm last went to ALARM (wall clock), from its history."""
    history = cloudwatch.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    times = [
        item["Timestamp"].timestamp()
        for item in history
        if json.loads(item.get("HistoryData") or "{}").get("newState", {}).get("stateValue") == "ALARM"
    ]
    return min(times) if times else None


def autoscale(sm, scaling, load: Load, rate: float, scale: float) -> tuple[Phase, str]:
    """2 -> 4 under the load, then back to 2 on a trickle; the instance counts seen, in order."""
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{ENDPOINT}/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    scaling.register_scalable_target(**target, MinCapacity=2, MaxCapacity=4)
    per_instance_minute = rate * (60 / scale) / 2  # what each of 2 instances gets per (scaled) AWS minute
    scaling.put_scaling_policy(
        PolicyName="per-instance",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "TargetValue": per_instance_minute / 3,  # the load needs 6 instances: capped at 4
            "ScaleOutCooldown": 60,
            "ScaleInCooldown": 120,
        },
        **target,
    )
    counts: list[int] = []
    began, clock_began = time.time(), time.monotonic()

    def watch_until(predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = sm.describe_endpoint(EndpointName=ENDPOINT)
            count = described["ProductionVariants"][0].get("CurrentInstanceCount")
            if not counts or counts[-1] != count:
                counts.append(count)
            if predicate(described, count):
                return True
            time.sleep(0.1)
        return False

    in_service = lambda d, c, n: d["EndpointStatus"] == "InService" and c == n  # noqa: E731
    up = watch_until(lambda d, c: in_service(d, c, 4), 30 * 60 / scale + 60)
    # A trickle well under 90 % of the target per instance, yet some requests in every scaled minute (the
    # threads fire together): a minute without data is missing, and the low alarm needs 15 of 15 below it.
    load.set_rate(max(rate / 10, 2 * load.threads * scale / 60))
    down = up and watch_until(lambda d, c: in_service(d, c, 2), 40 * 60 / scale + 60)
    load.set_rate(rate)
    phase = Phase("autoscaling 2->4->2", load.between(began, time.time()), time.monotonic() - clock_began)
    phase.note = f"instance counts seen: {' -> '.join(str(c) for c in counts)}"
    verdict = "met" if up and down and not phase.failed else "NOT met"
    return phase, verdict


# the run ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def run(url: str, state: Path, scratch: Path, args) -> int:
    sm = config.client(url, "sagemaker", state=state)
    s3 = config.client(url, "s3", state=state)
    cloudwatch = config.client(url, "cloudwatch", state=state)
    s3.create_bucket(Bucket=BUCKET)
    for tag in ("v1", "v2", "v3", "v4", "v5"):
        make_config(sm, tag, upload_model(s3, scratch, tag), args.instances)
    make_config(sm, "bad", upload_model(s3, scratch, "bad", fail_every=4), args.instances)
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="v1")
    if wait_for(sm)["EndpointStatus"] != "InService":
        raise RuntimeError("the endpoint did not come up")

    load = Load(url, state, args.rate).start()
    try:
        time.sleep(1.0)  # clients warmed up
        began = time.time()
        watch_steadily(sm, args.steady)
        steady = Phase("steady (v1)", load.between(began, time.time()), args.steady)
        shifts = [
            deploy(sm, load, "ALL_AT_ONCE", "v2", wait=60),
            deploy(sm, load, "CANARY", "v3", wait=300),
            deploy(sm, load, "LINEAR", "v4", wait=300),
            deploy(sm, load, "ROLLING", "v5", wait=300),
        ]
        put_error_alarm(cloudwatch, "bad-canary-5xx", "bad")
        rollback = deploy(sm, load, "CANARY", "bad", wait=BAKE, alarms=["bad-canary-5xx"])
        tripped = alarm_time(cloudwatch, "bad-canary-5xx")
        reason = sm.describe_endpoint(EndpointName=ENDPOINT).get("FailureReason", "none")
        last_bad = max(
            (a.at for a in rollback.answers if a.model == "bad" or (a.error and "model bad" in a.error)), default=None
        )
        # signed: negative when the bad fleet's last answer came before the alarm's state change was recorded
        back_after = None if tripped is None or last_bad is None else last_bad - tripped
        in_service_after = None if tripped is None else rollback.ended - tripped
        rows = [steady, *shifts, rollback]
        autoscaling = None
        if args.autoscaling:
            autoscaling = autoscale(
                sm, config.client(url, "application-autoscaling", state=state), load, args.rate, args.scale
            )
            rows.append(autoscaling[0])
    finally:
        load.stop()

    print(
        f"\nload {args.rate:g} req/s from {load.threads} threads (boto3, no retries), {args.instances} instances, "
        f"LOCALCLOUD_TIME_SCALE {args.scale:g}"
    )
    for phase in rows:
        print(phase.row())
        for part in (phase.starting, phase.shift):
            if part is not None:
                print(part.row())
        if phase.timeline:
            print(f"  slowest: {slowest(phase)}")
    budget = BAKE / args.scale
    if back_after is None:
        print("rollback: the alarm never went to ALARM or the bad fleet never answered")
    else:
        print(
            f"rollback: the bad fleet's last answer {back_after:+.3f} s from its alarm going to ALARM, the endpoint "
            f"InService on the old fleet {in_service_after:+.3f} s from it (one scaled bake interval: {budget:.1f} s)"
        )
        print(f"  FailureReason: {reason}")

    good = shifts
    steady_p99 = steady.latency_ms(0.99)
    worst = max(p.shift.latency_ms(0.99) for p in good)
    worst_whole = max(p.latency_ms(0.99) for p in good)
    bad_only = all(a.error and "model bad" in a.error for a in rollback.failed)
    print("\ntargets:")
    print(
        f"  0 failed requests for good models: {sum(len(p.failed) for p in [steady, *good])} failed -> "
        f"{verdict(not any(p.failed for p in [steady, *good]))}"
    )
    print(
        f"  p99 during a shift <= 2x steady ({steady_p99:.1f} ms): worst {worst:.1f} ms while traffic shifts -> "
        f"{verdict(worst <= 2 * steady_p99)}; {worst_whole:.1f} ms over whole deployments, green's start included "
        f"-> {verdict(worst_whole <= 2 * steady_p99)}"
    )
    print(
        f"  rollback within one scaled bake interval ({budget:.1f} s): "
        f"{'-' if back_after is None else f'{max(back_after, 0.0):.2f} s'} -> "
        f"{verdict(back_after is not None and back_after <= budget)}"
    )
    print(
        f"  rollback failures only from the bad fleet: {len(rollback.failed)} failed, "
        f"{sum(1 for a in rollback.failed if a.error and 'model bad' in a.error)} of them the bad model's -> "
        f"{verdict(bad_only)}"
    )
    if autoscaling:
        print(
            f"  autoscaling 2 -> 4 -> 2 with 0 failed: {autoscaling[0].note}, {len(autoscaling[0].failed)} failed -> "
            f"{autoscaling[1]}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second in total (default 50)")
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--steady", type=float, default=10.0, help="seconds of steady load measured first")
    parser.add_argument("--scale", type=float, default=60.0, help="LOCALCLOUD_TIME_SCALE for the local cloud")
    parser.add_argument("--no-autoscaling", dest="autoscaling", action="store_false")
    args = parser.parse_args(argv)
    os.environ["LOCALCLOUD_TIME_SCALE"] = f"{args.scale:g}"
    with tempfile.TemporaryDirectory(prefix="deploy-under-load-") as folder:
        state, scratch = Path(folder) / "state", Path(folder) / "scratch"
        scratch.mkdir()
        status = daemon.start(state, free_port())
        try:
            return run(status.url, state, scratch, args)
        finally:
            daemon.stop(state)


if __name__ == "__main__":
    sys.exit(main())
