"""What keeping state costs as the local cloud holds more: small writes and reads, big transfers,
memory and start time, measured side by side in one run on one fresh local cloud.

Targets (issue "durable state whose cost does not grow"): with 1 GB stored, a small PutObject and a
DescribeModelPackage at most 1.5x their empty figures; 1 GB uploaded and downloaded at 100 MB/s or
more; the local cloud's RSS under 400 MB with 1 GB stored and while 1 GB uploads; start time under
3 s with 1 GB stored.
A last row adds 10,000 small objects: a write must cost the same whatever the number of objects too
(at most 1.5x empty).

    python bench/state_scale.py             # 0, 100 MB and 1 GB stored, then 10,000 objects more
    python bench/state_scale.py --gb 0.25 --objects 2000   # a quicker run
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from boto3.s3.transfer import TransferConfig  # noqa: E402

from localcloud.core import config  # noqa: E402
from localcloud.tools import daemon  # noqa: E402

MB = 1024 * 1024
BUCKET = "state-scale"
GROUP = "state-scale-group"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class PeakRss:
    """The largest RSS of ``pid`` while the block runs (sampled every 20 ms)."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._done = pid, 0.0, threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self._done.wait(0.02)

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))
        return False


def timed(call, count: int) -> tuple[float, float]:
    """Median and p99 in milliseconds of ``count`` calls."""
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def small_ops(s3, sagemaker, package_arn: str, count: int) -> dict[str, tuple[float, float]]:
    # one key overwritten: the number of objects stays the same, so what changes between rows is the bytes stored
    return {
        "PutObject 100 B": timed(lambda: s3.put_object(Bucket=BUCKET, Key="small/overwritten", Body=b"x" * 100), count),
        "DescribeModelPackage": timed(lambda: sagemaker.describe_model_package(ModelPackageName=package_arn), count),
    }


def fill(s3, scratch: Path, megabytes: int) -> None:
    """Store ``megabytes`` as objects of 50 MB."""
    chunk = scratch / "chunk.bin"
    chunk.write_bytes(os.urandom(50 * MB))
    for index in range(megabytes // 50):
        s3.upload_file(str(chunk), BUCKET, f"fill/{index}.bin", Config=TransferConfig(multipart_threshold=2**40))
    chunk.unlink()


def fill_objects(s3, count: int) -> None:
    """Store ``count`` objects of 100 bytes (four clients at a time)."""
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=BUCKET, Key=f"many/{i}", Body=b"y" * 100), range(count)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gb", type=float, default=1.0, help="the largest amount stored (default 1 GB)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--objects", type=int, default=10_000, help="small objects added for the last row")
    args = parser.parse_args(argv)
    total_mb = args.gb * 1024
    with tempfile.TemporaryDirectory(prefix="state-scale-") as scratch_name:
        scratch = Path(scratch_name)
        state = scratch / "state"
        port = free_port()
        status = daemon.start(state, port)
        url = status.url
        s3 = config.client(url, "s3", state=state)
        sagemaker = config.client(url, "sagemaker", state=state)
        try:
            s3.create_bucket(Bucket=BUCKET)
            sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
            package = sagemaker.create_model_package(
                ModelPackageGroupName=GROUP,
                InferenceSpecification={
                    "Containers": [{"Image": "sklearn", "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz"}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
            )["ModelPackageArn"]
            rows = [(0, small_ops(s3, sagemaker, package, args.requests), rss_mb(status.pid))]
            fill(s3, scratch, 100)
            rows.append((100, small_ops(s3, sagemaker, package, args.requests), rss_mb(status.pid)))
            big = scratch / "big.bin"
            with open(big, "wb") as handle:
                for _ in range(max(1, int(total_mb // 64))):
                    handle.write(os.urandom(64 * MB))
            size_mb = big.stat().st_size / MB
            with PeakRss(status.pid) as uploading:
                began = time.perf_counter()
                s3.upload_file(str(big), BUCKET, "big.bin")
                upload = size_mb / (time.perf_counter() - began)
            big.unlink()
            with PeakRss(status.pid) as downloading:
                began = time.perf_counter()
                s3.download_file(BUCKET, "big.bin", str(scratch / "back.bin"))
                download = size_mb / (time.perf_counter() - began)
            (scratch / "back.bin").unlink()
            stored = 100 + size_mb
            rows.append((stored, small_ops(s3, sagemaker, package, args.requests), rss_mb(status.pid)))
            fill_objects(s3, args.objects)
            many = (f"+{args.objects} obj", small_ops(s3, sagemaker, package, args.requests), rss_mb(status.pid))
        finally:
            daemon.stop(state)
        began = time.perf_counter()
        status = daemon.start(state, free_port())
        start_seconds = time.perf_counter() - began
        restarted_rss = rss_mb(status.pid)
        daemon.stop(state)

    empty = rows[0][1]
    print(f"{'stored':>10}  {'operation':<22} {'median ms':>9} {'p99 ms':>8} {'x empty':>8}   local cloud RSS")
    for stored, ops, rss in rows:
        for index, (name, (median, p99)) in enumerate(ops.items()):
            ratio = median / empty[name][0]
            memory = f"{rss:.0f} MB" if index == 0 else ""
            print(f"{stored:>8.0f} MB  {name:<22} {median:>9.2f} {p99:>8.2f} {ratio:>7.2f}x   {memory}")
    label, ops, rss = many
    for index, (name, (median, p99)) in enumerate(ops.items()):
        memory = f"{rss:.0f} MB" if index == 0 else ""
        print(f"{label:>11} {name:<22} {median:>9.2f} {p99:>8.2f} {median / empty[name][0]:>7.2f}x   {memory}")
    print(f"\n{size_mb:.0f} MB object: upload {upload:.0f} MB/s, download {download:.0f} MB/s (target >= 100 MB/s)")
    print(f"local cloud peak RSS while uploading {uploading.peak:.0f} MB, while downloading {downloading.peak:.0f} MB")
    print(
        f"start with {stored:.0f} MB stored: {start_seconds:.2f} s (target < 3 s), "
        f"RSS after start {restarted_rss:.0f} MB"
    )
    last = rows[-1][1]
    _, ops, _ = many
    verdicts = [
        ("small ops at most 1.5x empty", all(last[n][0] <= 1.5 * empty[n][0] for n in empty)),
        (f"small ops with {args.objects} more objects at most 1.5x", all(ops[n][0] <= 1.5 * empty[n][0] for n in ops)),
        ("transfers >= 100 MB/s", upload >= 100 and download >= 100),
        ("RSS < 400 MB with 1 GB stored", rows[-1][2] < 400),
        ("RSS < 400 MB while 1 GB uploads", uploading.peak < 400),
        ("start < 3 s", start_seconds < 3),
    ]
    for name, met in verdicts:
        print(f"target {name}: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
