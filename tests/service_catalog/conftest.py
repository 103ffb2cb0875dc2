"""One synthesis per test session, shared by every test of the product (it takes seconds)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from service_catalog.synth import SynthResult, synthesize

REPO_ROOT = Path(__file__).resolve().parents[2]
ASSET_BUCKET = "test-template-assets"
PROJECT = {"SageMakerProjectName": "churn-model", "SageMakerProjectId": "p-abc123def456"}


@dataclass(frozen=True)
class Synthesized:
    result: SynthResult
    product: dict
    portfolio: dict
    assets_manifest: dict


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory) -> Synthesized:
    out = tmp_path_factory.mktemp("synth")
    result = synthesize(
        repo_root=REPO_ROOT, cdk_out=out / "cdk.out", dist=out / "dist", asset_bucket_name=ASSET_BUCKET
    )
    return Synthesized(
        result=result,
        product=json.loads(result.product_template.read_text()),
        portfolio=json.loads(result.portfolio_template.read_text()),
        assets_manifest=json.loads(result.assets_manifest.read_text()),
    )


@pytest.fixture(scope="session")
def product(synthesized) -> dict:
    return synthesized.product
