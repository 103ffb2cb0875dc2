"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service_catalog.synth import SynthResult, synthesize

REPO_ROOT = Path(__file__).resolve().parents[1]
# Tests run the local cloud's waits ten times faster than its default (a 600 s canary bake takes 2 s,
# not 20), as a user may; tests that need another scale set their own (see core/clock.py).
os.environ.setdefault("LOCALCLOUD_TIME_SCALE", "300")
ASSET_BUCKET = "test-template-assets"


@pytest.fixture(scope="session")
def synth_result(tmp_path_factory) -> SynthResult:
    """One synthesis of the product per test session (it takes seconds and half a GB)."""
    out = tmp_path_factory.mktemp("synth")
    return synthesize(repo_root=REPO_ROOT, cdk_out=out / "cdk.out", dist=out / "dist", asset_bucket_name=ASSET_BUCKET)


@pytest.fixture(scope="session")
def cdk_out(synth_result) -> Path:
    return synth_result.cdk_out
