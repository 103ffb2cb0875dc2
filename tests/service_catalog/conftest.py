"""The product's templates, read from the session's single synthesis (tests/conftest.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from service_catalog.synth import SynthResult
from tests.conftest import ASSET_BUCKET, REPO_ROOT

__all__ = ["ASSET_BUCKET", "PROJECT", "REPO_ROOT"]
PROJECT = {"SageMakerProjectName": "churn-model", "SageMakerProjectId": "p-abc123def456"}


@dataclass(frozen=True)
class Synthesized:
    result: SynthResult
    product: dict
    portfolio: dict
    assets_manifest: dict


@pytest.fixture(scope="session")
def synthesized(synth_result: SynthResult) -> Synthesized:
    """Shares the root conftest's synthesis (bucket ASSET_BUCKET) instead of running another."""
    result = synth_result
    return Synthesized(
        result=result,
        product=json.loads(result.product_template.read_text()),
        portfolio=json.loads(result.portfolio_template.read_text()),
        assets_manifest=json.loads(result.assets_manifest.read_text()),
    )


@pytest.fixture(scope="session")
def product(synthesized) -> dict:
    return synthesized.product
