"""How fast a local endpoint answers single-row requests, next to predicting in-process.

Starts a local cloud in a temporary folder, deploys a breast-cancer classifier with the training
step's inference script, then times single-row requests three ways: ``predict_proba`` on the model
in this process, the inference script's handlers in this process, and boto3's
``sagemaker-runtime.invoke_endpoint`` against the local endpoint; and, for scale, boto3 against a
stub server that answers at once (the client's own cost, which bounds any endpoint). Prints
requests per second and p50/p99 latency side by side. Loopback only; each loop is bounded by a
request count and a time.

    python bench/endpoint.py [--requests 2000] [--seconds 20] [--data-capture PERCENT]

``--data-capture`` turns on the endpoint's data capture (input and output, at that sampling
percentage) to show what capturing costs an invocation.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

INFERENCE_SCRIPT = REPO / "modelbuild" / "pipelines" / "scripts" / "training" / "inference.py"
TARGET_SHARE = 0.5  # the endpoint should reach half the in-process rate
TARGET_P99_MS = 20.0


def measure(call: Callable[[], object], requests: int, seconds: float) -> dict[str, float]:
    """Run ``call`` up to ``requests`` times or ``seconds`` long, after a short warm-up."""
    for _ in range(20):
        call()
    latencies = []
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while len(latencies) < requests and time.perf_counter() < deadline:
        begin = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - begin)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rate": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


def build_archive(folder: Path) -> tuple[Path, object, list[float]]:
    import joblib
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, labels = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(features, labels)
    content = folder / "content"
    (content / "code").mkdir(parents=True)
    joblib.dump(model, content / "model.joblib")
    (content / "code" / "inference.py").write_bytes(INFERENCE_SCRIPT.read_bytes())
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(content.rglob("*")):
            tar.add(path, arcname=path.relative_to(content).as_posix(), recursive=False)
    return archive, model, features[0].tolist()


def client_floor(requests: int, seconds: float) -> dict[str, float]:
    """boto3's own cost: invoke_endpoint against a stub that answers at once (keep-alive)."""
    import socketserver
    import threading

    import boto3

    from localcloud.serving.model_server import ConnectionHandler

    class Stub(socketserver.ThreadingTCPServer):
        daemon_threads = True

        def answer(self, method, path, headers, body):
            return 200, b'{"predictions": []}', "application/json"

    stub = Stub(("127.0.0.1", 0), ConnectionHandler)
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
    spec = importlib.util.spec_from_file_location("bench_inference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def deploy(cloud, archive: Path, data_capture: int | None = None) -> str:
    import boto3

    clients = {s: boto3.client(s, endpoint_url=cloud.url, region_name="us-east-1") for s in ("s3", "sagemaker")}
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
            "Image": "sklearn",
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per measurement (default 2000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="time limit per measurement (default 20)")
    parser.add_argument(
        "--data-capture",
        type=int,
        metavar="PERCENT",
        default=None,
        help="capture this percentage of requests and responses to S3 (default: no data capture)",
    )
    args = parser.parse_args(argv)

    import boto3
    import numpy as np

    from localcloud.server import LocalCloud

    with tempfile.TemporaryDirectory(prefix="endpoint-bench-") as scratch:
        archive, model, row = build_archive(Path(scratch))
        cloud = LocalCloud(Path(scratch) / "state").start()
        os.environ.update(cloud.client_environment())
        try:
            endpoint = deploy(cloud, archive, args.data_capture)
            runtime = boto3.client("sagemaker-runtime", endpoint_url=cloud.url, region_name="us-east-1")
            body = ",".join(repr(v) for v in row)
            script = load_script(INFERENCE_SCRIPT)
            matrix = np.asarray([row])

            results = {
                "in-process predict_proba": measure(lambda: model.predict_proba(matrix), args.requests, args.seconds),
                "in-process inference.py handlers": measure(
                    lambda: script.output_fn(
                        script.predict_fn(script.input_fn(body, "text/csv"), model), "application/json"
                    ),
                    args.requests,
                    args.seconds,
                ),
                "local endpoint (boto3 invoke_endpoint)": measure(
                    lambda: runtime.invoke_endpoint(
                        EndpointName=endpoint, Body=body, ContentType="text/csv", Accept="application/json"
                    )["Body"].read(),
                    args.requests,
                    args.seconds,
                ),
                "boto3 client alone (stub server, no model)": client_floor(args.requests, args.seconds),
            }
        finally:
            cloud.stop()

    print(f"{'single-row requests':42} {'requests':>8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for name, figures in results.items():
        print(
            f"{name:42} {figures['requests']:8d} {figures['rate']:9.0f} "
            f"{figures['p50_ms']:8.2f} {figures['p99_ms']:8.2f}"
        )
    endpoint_figures = results["local endpoint (boto3 invoke_endpoint)"]
    reference = results["in-process predict_proba"]
    share = endpoint_figures["rate"] / reference["rate"]
    print(
        f"\nendpoint rate / in-process predict_proba rate: {share:.0%} (target {TARGET_SHARE:.0%}: "
        f"{'met' if share >= TARGET_SHARE else 'NOT met'})"
    )
    print(
        f"endpoint p99: {endpoint_figures['p99_ms']:.2f} ms (target under {TARGET_P99_MS:.0f} ms: "
        f"{'met' if endpoint_figures['p99_ms'] < TARGET_P99_MS else 'NOT met'})"
    )
    floor = results["boto3 client alone (stub server, no model)"]
    print(
        f"boto3's own cost caps any endpoint at {floor['rate']:.0f} req/s here "
        f"({floor['rate'] / reference['rate']:.0%} of the in-process rate)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
