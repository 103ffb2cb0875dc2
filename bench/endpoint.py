"""How fast a local endpoint answers single-row requests, next to predicting in-process.

Starts a local cloud in the background (as ``localcloud start`` does) with a temporary state
folder, deploys the template's model exactly as the Train step makes it (``train.py`` on the
breast-cancer data, with ``code/inference.py``), then times single-row requests:

- in this process: ``predict_proba`` on the model (what the endpoint computes), and the inference
  script's handlers;
- through the endpoint, one client at a time: boto3's ``invoke_endpoint``, and the same
  InvokeEndpoint request sent on a kept-alive HTTP connection (the endpoint without the cost of a
  client library);
- through the endpoint, ``--clients`` processes at once: the endpoint's throughput under load;
- for scale, boto3 against a stub server that answers at once: boto3's own cost, which bounds
  what any endpoint can reach with it.

Prints requests per second and p50/p99 latency side by side, and each endpoint rate as a share of
the in-process ``predict_proba`` rate. A machine whose speed drifts (a shared virtual machine's
does, by up to half within minutes) would otherwise decide the share by chance:

- the single-client rows and the in-process rows are each the best of three runs, and their share
  is of the higher in-process rate, measured before and after the endpoint rows;
- the load rows run three windows, and the in-process rate is measured in the quiet gap before each
  window and after the last; each window's share is of the higher of its two neighbours, and the
  target is judged on the median of the three.

Loopback only; each loop is bounded by a request count and a time.

    python bench/endpoint.py [--requests 2000] [--seconds 20] [--clients 2] [--data-capture PERCENT]

``--data-capture`` turns on the endpoint's data capture (input and output, at that sampling
percentage) to show what capturing costs an invocation.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import socket
import statistics
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TRAINING_SCRIPTS = REPO / "modelbuild" / "pipelines" / "scripts" / "training"
TARGET_SHARE = 0.5  # the endpoint should reach half the in-process rate
TARGET_P99_MS = 20.0
GAP_SECONDS = 1.5  # between load windows: the in-process rate is measured there, with the clients idle
REFERENCE_SECONDS = 1.0


def timed_loop(call: Callable[[], object], requests: int, seconds: float) -> tuple[list[float], float]:
    """Latencies of up to ``requests`` calls or ``seconds`` of calling, after a short warm-up."""
    for _ in range(20):
        call()
    latencies = []
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while len(latencies) < requests and time.perf_counter() < deadline:
        begin = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - begin)
    return latencies, time.perf_counter() - started


def summarize(latencies: list[float], elapsed: float) -> dict[str, float]:
    latencies = sorted(latencies)
    return {
        "requests": len(latencies),
        "rate": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


def measure(call: Callable[[], object], requests: int, seconds: float) -> dict[str, float]:
    return summarize(*timed_loop(call, requests, seconds))


def measure_best(call: Callable[[], object], requests: int, seconds: float, runs: int = 3) -> dict[str, float]:
    """The fastest of a few runs: what the code can do when the machine is at its quickest."""
    return max((measure(call, requests, seconds) for _ in range(runs)), key=lambda figures: figures["rate"])


def boto3_invoker(url: str, endpoint: str, body: str) -> Callable[[], bytes]:
    import boto3

    runtime = boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1")
    return lambda: runtime.invoke_endpoint(
        EndpointName=endpoint, Body=body, ContentType="text/csv", Accept="application/json"
    )["Body"].read()


def http_invoker(url: str, endpoint: str, body: str) -> Callable[[], bytes]:
    """InvokeEndpoint's request as boto3 sends it, signed once and replayed (a signature stays valid
    for minutes), from a load generator's client: the request's bytes are made once, and only the
    status line, the headers and a Content-Length body are read back, so that the client takes as
    little as possible of the CPU the endpoint runs on."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)))
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    responses = connection.makefile("rb")
    path = f"/endpoints/{endpoint}/invocations"
    signing = AWSRequest("POST", f"{url}{path}", data=body.encode(), headers={"Content-Type": "text/csv"})
    signing.headers["Accept"] = "application/json"
    keys = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    SigV4Auth(keys, "sagemaker", "us-east-1").add_auth(signing)
    headers = {**dict(signing.headers.items()), "Host": f"{host}:{port}", "Content-Length": str(len(body))}
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = (head + "\r\n").encode("latin-1") + body.encode()

    def invoke() -> bytes:
        connection.sendall(request)
        status = responses.readline()
        length, keep_alive = 0, True
        while (line := responses.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection":
                keep_alive = value.strip().lower() != "close"
        data = responses.read(length)
        if status.split()[1:2] != [b"200"] or not keep_alive:
            raise RuntimeError(f"InvokeEndpoint answered {status!r} (keep-alive {keep_alive}): {data[:200]!r}")
        return data

    return invoke


INVOKERS = {"boto3": boto3_invoker, "http": http_invoker}


_SYNC: tuple = ()  # (barrier, start time) in each client process, from _init_client


def _init_client(barrier, start_box) -> None:
    global _SYNC
    _SYNC = (barrier, start_box)


def client_process(kind: str, url: str, endpoint: str, body: str, seconds: float, runs: int) -> list[list[float]]:
    """One of several clients at once: warm up, wait for the others and the schedule, then call
    through ``runs`` windows of ``seconds`` that start at the same moments in every client."""
    barrier, start_box = _SYNC
    call = INVOKERS[kind](url, endpoint, body)
    for _ in range(20):
        call()
    barrier.wait()  # every client is ready
    barrier.wait()  # the schedule is set
    windows = []
    for window in range(runs):
        time.sleep(max(0.0, start_box.value + window * (seconds + GAP_SECONDS) - time.time()))
        latencies = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            begin = time.perf_counter()
            call()
            latencies.append(time.perf_counter() - begin)
        windows.append(latencies)
    return windows


def calls_per_second(call: Callable[[], object], seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        call()
        count += 1
    return count / (time.perf_counter() - started)


def measure_load(
    kind: str,
    clients: int,
    url: str,
    endpoint: str,
    body: str,
    seconds: float,
    reference: Callable[[], object],
    runs: int = 3,
) -> tuple[dict, list[tuple[float, float]]]:
    """``clients`` processes invoking at once in ``runs`` windows, with the in-process rate measured
    in the quiet gap before each window and after the last. Returns the best window's figures and,
    per window, its rate and the higher in-process rate next to it: pairs close in time, so that a
    machine whose speed drifts cannot decide the share."""
    seconds = min(seconds, 3.0)
    context = multiprocessing.get_context("spawn")
    barrier, start_box = context.Barrier(clients + 1), context.Value("d", 0.0)
    with context.Pool(clients, initializer=_init_client, initargs=(barrier, start_box)) as pool:
        pending = pool.starmap_async(client_process, [(kind, url, endpoint, body, seconds, runs)] * clients)
        barrier.wait(timeout=120)
        start_at = start_box.value = time.time() + GAP_SECONDS
        barrier.wait(timeout=10)
        in_process = []
        for gap in range(runs + 1):  # the gap before each window, then the one after the last
            gap_start = start_at + gap * (seconds + GAP_SECONDS) - GAP_SECONDS
            time.sleep(max(0.0, gap_start + 0.2 - time.time()))
            in_process.append(calls_per_second(reference, REFERENCE_SECONDS))
        per_client = pending.get(timeout=60)
    windows = [
        summarize([latency for client in per_client for latency in client[window]], seconds) for window in range(runs)
    ]
    pairs = [(figures["rate"], max(in_process[index], in_process[index + 1])) for index, figures in enumerate(windows)]
    return max(windows, key=lambda figures: figures["rate"]), pairs


def build_archive(folder: Path) -> tuple[Path, object, list[float]]:
    """model.tar.gz as the Train step makes it: train.py fitted on a train.csv (target first)."""
    import joblib
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame
    train_dir, content = folder / "train", folder / "content"
    train_dir.mkdir()
    data[["target", *data.columns.drop("target")]].to_csv(train_dir / "train.csv", index=False)
    (train_dir / "dataset.json").write_text('{"problem_type": "binary_classification"}')  # as Preprocess writes
    sys.path.insert(0, str(TRAINING_SCRIPTS))  # train.py imports features.py, as in the training job
    load_script(TRAINING_SCRIPTS / "train.py").train(train_dir, content)
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(content.rglob("*")):
            tar.add(path, arcname=path.relative_to(content).as_posix(), recursive=False)
    return archive, joblib.load(content / "model.joblib"), [float(v) for v in data.drop(columns="target").iloc[0]]


def client_floor(requests: int, seconds: float) -> dict[str, float]:
    """boto3's own cost: invoke_endpoint against a stub that answers at once (keep-alive)."""
    import threading

    import boto3
    from werkzeug.wrappers import Response

    from localcloud.core.front_door import FrontDoorServer  # the endpoint's own HTTP server

    class Stub:
        """Claims every request and answers at once, as a gateway would."""

        def claim(self, method, path):
            return "stub"

        def serve_claimed(self, claimed, method, target, headers, body):
            return Response(b'{"predictions": []}', mimetype="application/json")

    stub = FrontDoorServer("127.0.0.1", 0, Stub())
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    try:
        client = boto3.client(
            "sagemaker-runtime",
            endpoint_url=f"http://127.0.0.1:{stub.server_address[1]}",
            region_name="us-east-1",
        )
        return measure(
            lambda: client.invoke_endpoint(EndpointName="stub", Body=b"1", ContentType="text/csv")["Body"].read(),
            requests,
            seconds,
        )
    finally:
        stub.shutdown()
        stub.server_close()


def load_script(path: Path):
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def deploy(url: str, archive: Path, data_capture: int | None = None) -> str:
    import boto3

    clients = {s: boto3.client(s, endpoint_url=url, region_name="us-east-1") for s in ("s3", "sagemaker")}
    clients["s3"].create_bucket(Bucket="bench-models")
    clients["s3"].upload_file(str(archive), "bench-models", "model.tar.gz")
    capture = {}
    if data_capture is not None:
        capture["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": data_capture,
            "DestinationS3Uri": "s3://bench-models/datacapture",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
        }
    sm = clients["sagemaker"]
    sm.create_model(
        ModelName="bench",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/bench",
        PrimaryContainer={
            "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3",
            "ModelDataUrl": "s3://bench-models/model.tar.gz",
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName="bench",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "bench",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        **capture,
    )
    sm.create_endpoint(EndpointName="bench", EndpointConfigName="bench")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="bench", WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return "bench"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per measurement (default 2000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="time limit per measurement (default 20)")
    parser.add_argument("--clients", type=int, default=2, help="client processes for the load figures (default 2)")
    parser.add_argument(
        "--data-capture",
        type=int,
        metavar="PERCENT",
        default=None,
        help="capture this percentage of requests and responses to S3 (default: no data capture)",
    )
    args = parser.parse_args(argv)

    import numpy as np

    from localcloud.core import config
    from localcloud.tools import daemon

    with tempfile.TemporaryDirectory(prefix="endpoint-bench-") as scratch:
        archive, model, row = build_archive(Path(scratch))
        body = ",".join(repr(v) for v in row)
        script = load_script(TRAINING_SCRIPTS / "inference.py")  # as the endpoint does, rows are arrays
        matrix = np.asarray([row])

        def reference() -> dict[str, float]:
            return measure_best(lambda: model.predict_proba(matrix), args.requests, args.seconds)

        # in-process first, with nothing else running
        paired: dict[str, list[tuple[float, float]]] = {}
        results = {
            "in-process predict_proba": reference(),
            "in-process inference.py handlers": measure_best(
                lambda: script.output_fn(
                    script.predict_fn(script.input_fn(body, "text/csv"), model), "application/json"
                ),
                args.requests,
                args.seconds,
            ),
        }
        state_dir = Path(scratch) / "state"
        url = daemon.start(state_dir, free_port()).url
        os.environ.update(config.client_environment(url, state=state_dir))
        try:
            endpoint = deploy(url, archive, args.data_capture)
            load = f"{args.clients} clients at once"
            results["endpoint, boto3, 1 client"] = measure_best(
                boto3_invoker(url, endpoint, body), args.requests, args.seconds
            )
            results["endpoint, HTTP keep-alive, 1 client"] = measure_best(
                http_invoker(url, endpoint, body), args.requests, args.seconds
            )
            predict = lambda: model.predict_proba(matrix)  # noqa: E731
            for kind, label in (("boto3", "boto3"), ("http", "HTTP keep-alive")):
                name = f"endpoint, {label}, {load}"
                results[name], paired[name] = measure_load(
                    kind, args.clients, url, endpoint, body, args.seconds, predict
                )
        finally:
            daemon.stop(state_dir)
        results["in-process predict_proba, again"] = reference()
        results["boto3 alone (stub server, no model)"] = client_floor(args.requests, args.seconds)

    reference = max(results["in-process predict_proba"]["rate"], results["in-process predict_proba, again"]["rate"])
    print(f"{'single-row requests':40} {'requests':>8} {'req/s':>7} {'share':>6} {'p50 ms':>7} {'p99 ms':>7}")
    for name, figures in results.items():
        print(
            f"{name:40} {figures['requests']:8d} {figures['rate']:7.0f} {figures['rate'] / reference:6.0%} "
            f"{figures['p50_ms']:7.2f} {figures['p99_ms']:7.2f}"
        )
    print("\nshare: of the higher in-process predict_proba rate (measured before and after)")
    for name, pairs in paired.items():
        shares = [rate / in_process for rate, in_process in pairs]
        print(
            f"{name}: windows of "
            + ", ".join(
                f"{rate:.0f} req/s next to {in_process:.0f} in-process ({rate / in_process:.0%})"
                for rate, in_process in pairs
            )
            + f"; median share {statistics.median(shares):.0%}"
        )
    print(
        f"\ntarget: {TARGET_SHARE:.0%} of the in-process rate (under load: the median paired share), "
        f"p99 under {TARGET_P99_MS:.0f} ms"
    )
    for name, figures in results.items():
        if name.startswith("endpoint"):
            if name in paired:
                share = statistics.median(rate / in_process for rate, in_process in paired[name])
            else:
                share = figures["rate"] / reference
            p99 = figures["p99_ms"]
            print(
                f"{name:40} share {share:4.0%} {'met' if share >= TARGET_SHARE else 'NOT met':7}  "
                f"p99 {'met' if p99 < TARGET_P99_MS else 'NOT met'}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
