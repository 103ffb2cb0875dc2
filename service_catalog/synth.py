"""`python -m service_catalog.synth`: synthesize the portfolio and product offline.

Writes the cloud assembly to `cdk.out/` (templates, `*.assets.json`, staged
assets) and to `dist/`:

- `dist/seed/`: the seed archives and the cleanup handler zip;
- `dist/project-template/`: the product as a SageMaker S3 project template,
  `template.json` plus `assets/<key>` files. The template names its files as
  `AssetBucketName` (a parameter, default = the bucket given here) + fixed keys,
  so uploading `assets/` to any bucket and passing that bucket makes it work.

cdk-nag (AwsSolutions) runs during synthesis: an unacknowledged finding fails it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from service_catalog.app import DEFAULT_ASSET_BUCKET, STACK_NAME, build_app, validate_bucket_name

ASSET_BUCKET_ENV = "MLOPS_TEMPLATE_ASSET_BUCKET"
PROJECT_TEMPLATE_DIR = "project-template"
SEED_DIR = "seed"


class SynthesisError(RuntimeError):
    """Synthesis failed; the message says why and where to look."""


@dataclass(frozen=True)
class SynthResult:
    cdk_out: Path
    dist: Path
    portfolio_template: Path
    product_template: Path
    assets_manifest: Path
    project_template: Path
    seconds: float


def _validation_findings(cdk_out: Path) -> list[str]:
    report = cdk_out / "validation-report.json"
    if not report.exists():
        return []
    findings = []
    for plugin in json.loads(report.read_text()).get("pluginReports", []):
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                findings.append(f"{violation['ruleName']} at {construct['constructPath']}: {violation['description']}")
    return findings


def _reset(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def export_project_template(cdk_out: Path, product_template: Path, destination: Path, bucket: str) -> Path:
    """Copy the product template and the files it names into the S3 project template layout."""
    _reset(destination)
    template = json.loads(product_template.read_text())
    manifest = json.loads((cdk_out / f"{STACK_NAME}.assets.json").read_text())
    serialized = json.dumps(template)
    assets_dir = destination / "assets"
    assets_dir.mkdir()
    listed = {}
    for asset in manifest["files"].values():
        destination_entry = next(iter(asset["destinations"].values()))
        key = destination_entry["objectKey"]
        if key not in serialized:
            continue  # the stack templates themselves, not files the product reads
        shutil.copyfile(cdk_out / asset["source"]["path"], assets_dir / key)
        listed[key] = asset["displayName"]
    template_path = destination / "template.json"
    template_path.write_text(json.dumps(template, indent=1, sort_keys=False) + "\n")
    (destination / "assets.json").write_text(
        json.dumps(
            {
                "template": "template.json",
                "bucketParameter": "AssetBucketName",
                "defaultBucket": bucket,
                "assets": dict(sorted(listed.items())),
            },
            indent=2,
        )
        + "\n"
    )
    return template_path


def synthesize(
    *, repo_root: Path, cdk_out: Path, dist: Path, asset_bucket_name: str = DEFAULT_ASSET_BUCKET
) -> SynthResult:
    """Build the seed archives, synthesize (with cdk-nag) and export the S3 template form."""
    started = time.perf_counter()
    validate_bucket_name(asset_bucket_name)  # before anything is wiped
    repo_root, cdk_out, dist = Path(repo_root), Path(cdk_out), Path(dist)
    _reset(cdk_out)
    files_dir = dist / SEED_DIR
    _reset(files_dir)
    built = build_app(repo_root=repo_root, outdir=cdk_out, files_dir=files_dir, asset_bucket_name=asset_bucket_name)
    try:
        built.app.synth()
    except Exception as error:  # jsii surfaces validation failures as generic errors
        findings = _validation_findings(cdk_out)
        if findings:
            raise SynthesisError(
                "cdk-nag findings without an acknowledgement (fix them, or acknowledge with a reason "
                "next to the resource):\n  " + "\n  ".join(findings)
            ) from error
        raise
    product_templates = sorted(cdk_out.glob("*.product.template.json"))
    if len(product_templates) != 1:
        raise SynthesisError(f"expected one product template in {cdk_out}, found {len(product_templates)}")
    project_template = export_project_template(
        cdk_out, product_templates[0], dist / PROJECT_TEMPLATE_DIR, asset_bucket_name
    )
    return SynthResult(
        cdk_out=cdk_out,
        dist=dist,
        portfolio_template=cdk_out / f"{STACK_NAME}.template.json",
        product_template=product_templates[0],
        assets_manifest=cdk_out / f"{STACK_NAME}.assets.json",
        project_template=project_template,
        seconds=time.perf_counter() - started,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service_catalog.synth", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--asset-bucket",
        default=os.environ.get(ASSET_BUCKET_ENV, DEFAULT_ASSET_BUCKET),
        help=f"bucket the assets are published to (env {ASSET_BUCKET_ENV}; default {DEFAULT_ASSET_BUCKET})",
    )
    parser.add_argument("--cdk-out", default="cdk.out", type=Path)
    parser.add_argument("--dist", default="dist", type=Path)
    args = parser.parse_args(argv)
    try:
        result = synthesize(
            repo_root=Path.cwd(), cdk_out=args.cdk_out, dist=args.dist, asset_bucket_name=args.asset_bucket
        )
    except (SynthesisError, ValueError, FileNotFoundError) as error:
        print(f"synthesis failed: {error}", file=sys.stderr)
        return 1
    print(f"portfolio template: {result.portfolio_template}")
    print(f"product template:   {result.product_template}")
    print(f"assets manifest:    {result.assets_manifest}")
    print(f"S3 project template: {result.project_template} (+ assets/ for bucket {args.asset_bucket})")
    print(f"synthesis time: {result.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
