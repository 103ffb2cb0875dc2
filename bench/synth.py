"""Benchmark: time and peak memory of one product synthesis (`python -m bench.synth`)."""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

started = time.perf_counter()

from service_catalog.synth import synthesize  # noqa: E402  (import time is part of the figure)


def descendant_pids(pid: int) -> list[int]:
    """Live descendants of `pid` (the jsii runtime and its node kernel), from /proc."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    direct = [int(child) for child in children.read_text().split()] if children.exists() else []
    return direct + [grandchild for child in direct for grandchild in descendant_pids(child)]


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    imported = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        result = synthesize(repo_root=Path.cwd(), cdk_out=Path(work) / "cdk.out", dist=Path(work) / "dist")
    finished = time.perf_counter()
    python_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    node_mb = sum(peak_rss_kb(pid) for pid in descendant_pids(os.getpid())) / 1024
    total = finished - started
    print(f"import {imported - started:.1f} s, synthesis {result.seconds:.1f} s, total {total:.1f} s")
    print(f"peak RSS: python {python_mb:.0f} MB, jsii node process {node_mb:.0f} MB")


if __name__ == "__main__":
    main()
