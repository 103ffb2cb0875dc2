"""Builds the CDK app: seed archives and handler zip first, then the portfolio stack, checked by cdk-nag."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from seed_code import SeedArchive, build_seed_archives, write_deterministic_zip
from service_catalog.portfolio import AssetFiles, PortfolioStack
from service_catalog.project import cleanup as cleanup_module

STACK_NAME = "SageMakerMLOpsPortfolio"
DEFAULT_ASSET_BUCKET = "sagemaker-mlops-template-assets"
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
HANDLER_SOURCE = Path(cleanup_module.__file__).with_name(f"{cleanup_module.HANDLER_MODULE}.py")


@dataclass
class BuiltApp:
    app: cdk.App
    stack: PortfolioStack
    seed_archives: dict[str, SeedArchive]
    cleanup_handler_zip: Path


def validate_bucket_name(name: str) -> str:
    if not BUCKET_NAME.match(name) or ".." in name:
        raise ValueError(
            f"asset bucket name {name!r} is not a valid S3 bucket name: use 3-63 lowercase "
            "letters, digits, dots or hyphens, starting and ending with a letter or digit"
        )
    return name


def build_cleanup_handler_zip(destination: Path) -> Path:
    """Zip the cleanup handler deterministically (same source, same key)."""
    write_deterministic_zip({HANDLER_SOURCE.name: (HANDLER_SOURCE.read_bytes(), 0o100644)}, destination)
    return destination


def build_app(
    *,
    repo_root: Path,
    outdir: Path,
    files_dir: Path,
    asset_bucket_name: str = DEFAULT_ASSET_BUCKET,
    nag: bool = True,
) -> BuiltApp:
    """Build (not synthesize) the app.

    `files_dir` receives the seed archives and the handler zip, which the stack
    registers as file assets; `outdir` is the cloud assembly directory.
    """
    validate_bucket_name(asset_bucket_name)
    seeds = build_seed_archives(repo_root, files_dir)
    handler_zip = build_cleanup_handler_zip(files_dir / "cleanup-handler.zip")

    app = cdk.App(outdir=str(outdir), analytics_reporting=False)
    stack = PortfolioStack(
        app,
        STACK_NAME,
        asset_bucket_name=asset_bucket_name,
        asset_files=AssetFiles(
            modelbuild_seed=seeds["modelbuild"].path,
            modeldeploy_seed=seeds["modeldeploy"].path,
            cleanup_handler=handler_zip,
        ),
        synthesizer=cdk.DefaultStackSynthesizer(
            file_assets_bucket_name=asset_bucket_name,
            generate_bootstrap_version_rule=False,
        ),
    )
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return BuiltApp(app=app, stack=stack, seed_archives=seeds, cleanup_handler_zip=handler_zip)
