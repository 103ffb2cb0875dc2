"""Publish the output of ``make synth`` into the local cloud, as a platform team does in an account.

``python -m localcloud.tools.publish [--cdk-out cdk.out]``:

1. every file asset of ``cdk.out/*.assets.json`` (seed archives, cleanup function, product and
   portfolio templates) is uploaded to its destination bucket and key, creating buckets as needed;
2. each stack of the cloud assembly (the portfolio) is created, or updated, with CloudFormation:
   its Service Catalog portfolio, product (with the product template as provisioning artifact),
   associations and launch role come from the template itself.

Publishing twice changes nothing: keys are content hashes and an unchanged stack stays as it is.
It talks to the local cloud at ``AWS_ENDPOINT_URL`` (or ``--endpoint-url``) and never re-synthesises.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from localcloud import ACCOUNT_ID, DEFAULT_REGION
from localcloud.core import config

STUDIO_ROLE_NAME = "LocalStudioExecutionRole"
STUDIO_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


class PublishError(RuntimeError):
    """Publication cannot go on; the message says what to fix."""


@dataclass
class Published:
    stacks: dict[str, str] = field(default_factory=dict)
    uploads: int = 0
    products: list[dict] = field(default_factory=list)


def stack_artifacts(cdk_out: Path) -> list[tuple[str, Path]]:
    """(stack name, template file) of every stack in the cloud assembly."""
    manifest_path = cdk_out / "manifest.json"
    if not manifest_path.is_file():
        raise PublishError(f"{manifest_path} is missing: run `make synth` first")
    stacks = []
    for artifact_id, artifact in json.loads(manifest_path.read_text())["artifacts"].items():
        if artifact.get("type") == "aws:cloudformation:stack":
            properties = artifact.get("properties", {})
            stacks.append((properties.get("stackName") or artifact_id, cdk_out / properties["templateFile"]))
    if not stacks:
        raise PublishError(f"{manifest_path} names no CloudFormation stack: is this a CDK cloud assembly?")
    return stacks


def ensure_studio_role(iam) -> str:
    """The role Studio users would have; made once, as a Studio domain's execution role exists in AWS."""
    try:
        return iam.get_role(RoleName=STUDIO_ROLE_NAME)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(
            RoleName=STUDIO_ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(STUDIO_TRUST),
            Description="SageMaker Studio execution role of the local cloud",
        )["Role"]["Arn"]


def publish(
    cdk_out: Path,
    endpoint_url: str,
    region: str = DEFAULT_REGION,
    studio_role_arn: str | None = None,
    state: Path | None = None,
) -> Published:
    from service_catalog import publish as portfolio_publish

    def client(service: str):
        return config.client(endpoint_url, service, region, state)

    s3 = client("s3")
    manifests = sorted(cdk_out.glob("*.assets.json"))
    if not manifests:
        raise PublishError(f"no *.assets.json in {cdk_out}: run `make synth` first")
    plan = []
    for manifest in manifests:
        plan += portfolio_publish.upload_plan(
            cdk_out, json.loads(manifest.read_text()), account=ACCOUNT_ID, region=region, partition="aws"
        )
    for bucket in sorted({item.bucket for item in plan}):
        portfolio_publish.ensure_bucket(s3, bucket, region, create=True)
    portfolio_publish.upload(s3, plan)

    role_arn = studio_role_arn or ensure_studio_role(client("iam"))
    cloudformation = client("cloudformation")
    result = Published(uploads=len(plan))
    for stack_name, template_file in stack_artifacts(cdk_out):
        template_item = next((item for item in plan if item.source == template_file), None)
        url = f"https://s3.{region}.amazonaws.com/{template_item.bucket}/{template_item.key}" if template_item else ""
        result.stacks[stack_name] = portfolio_publish.deploy(
            cloudformation, template_file.read_text(), stack_name, role_arn, url
        )
        resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
        for resource in resources:
            if resource["ResourceType"] == "AWS::ServiceCatalog::CloudFormationProduct":
                product_id = resource["PhysicalResourceId"]
                artifacts = client("servicecatalog").list_provisioning_artifacts(ProductId=product_id)
                result.products.append(
                    {
                        "ProductId": product_id,
                        "ProvisioningArtifactIds": [a["Id"] for a in artifacts["ProvisioningArtifactDetails"]],
                    }
                )
    return result


@dataclass
class PublishedTemplate:
    """An S3 project template in the local cloud: what CreateProject's TemplateProviders names."""

    url: str
    parameters: dict[str, str]


def publish_project_template(
    template_dir: Path, endpoint_url: str, bucket: str, region: str = DEFAULT_REGION, state: Path | None = None
) -> PublishedTemplate:
    """Upload ``dist/project-template`` (``make synth``): its assets under their keys and ``template.json``,
    tagged ``sagemaker:studio-visibility=true`` as Studio lists S3 templates, to ``bucket``."""
    from service_catalog import publish as portfolio_publish

    manifest_path = template_dir / "assets.json"
    if not manifest_path.is_file():
        raise PublishError(f"{manifest_path} is missing: run `make synth` first")
    manifest = json.loads(manifest_path.read_text())
    s3 = config.client(endpoint_url, "s3", region, state)
    portfolio_publish.ensure_bucket(s3, bucket, region, create=True)
    for key in manifest["assets"]:
        s3.put_object(Bucket=bucket, Key=key, Body=(template_dir / "assets" / key).read_bytes())
    key = f"project-template/{manifest['template']}"
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=(template_dir / manifest["template"]).read_bytes(),
        Tagging="sagemaker:studio-visibility=true",
    )
    return PublishedTemplate(
        url=f"https://{bucket}.s3.{region}.amazonaws.com/{key}", parameters={manifest["bucketParameter"]: bucket}
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud.tools.publish", description=__doc__.split("\n")[0])
    parser.add_argument("--cdk-out", type=Path, default=Path("cdk.out"))
    parser.add_argument(
        "--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL") or f"http://127.0.0.1:{config.port()}"
    )
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or DEFAULT_REGION)
    parser.add_argument(
        "--studio-role-arn",
        default=None,
        help=f"principal allowed to launch the product (default: role {STUDIO_ROLE_NAME}, made if missing)",
    )
    args = parser.parse_args(argv)
    from service_catalog.publish import PublishError as PortfolioPublishError

    try:
        result = publish(args.cdk_out, args.endpoint_url, args.region, args.studio_role_arn)
    except (PublishError, PortfolioPublishError) as error:
        print(f"publish failed: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # botocore's connection errors name the endpoint
        print(f"publish failed: {error} (is the local cloud running at {args.endpoint_url}?)", file=sys.stderr)
        return 1
    for stack, status in result.stacks.items():
        print(f"{stack}: {status}")
    for product in result.products:
        artifacts = ", ".join(product["ProvisioningArtifactIds"])
        print(f"product {product['ProductId']} (provisioning artifacts: {artifacts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
