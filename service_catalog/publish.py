"""`python -m service_catalog.publish`: publish the portfolio to an AWS account.

1. synthesize with the chosen asset bucket (so the templates name it);
2. upload every file asset listed in `cdk.out/<stack>.assets.json` (seed
   archives, cleanup handler, product template, portfolio template) with the
   caller's own credentials - no CDK bootstrap roles are assumed;
3. create or update the portfolio stack with boto3 and wait for it.

Like any boto3 program it honours AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from service_catalog.app import STACK_NAME
from service_catalog.synth import ASSET_BUCKET_ENV, SynthesisError, synthesize

STUDIO_ROLE_ENV = "SAGEMAKER_STUDIO_ROLE_ARN"
TEMPLATE_BODY_LIMIT = 51_200
PLACEHOLDERS = ("${AWS::AccountId}", "${AWS::Region}", "${AWS::Partition}")


class PublishError(RuntimeError):
    """Publication cannot go on; the message says what to fix."""


@dataclass(frozen=True)
class Upload:
    source: Path
    bucket: str
    key: str


def resolve_placeholders(text: str, *, account: str, region: str, partition: str) -> str:
    """Fill the placeholders the CDK leaves in asset destinations."""
    return (
        text.replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", partition)
    )


def upload_plan(cdk_out: Path, manifest: dict, *, account: str, region: str, partition: str) -> list[Upload]:
    """What goes where, from an assets manifest (only file assets; this app has no others)."""
    if manifest.get("dockerImages"):
        raise PublishError("the assets manifest lists Docker images; this publisher only uploads files")
    plan = []
    for asset_id, asset in sorted(manifest.get("files", {}).items()):
        source = asset["source"]
        if source.get("packaging", "file") != "file":
            raise PublishError(f"asset {asset_id} is packaged as {source['packaging']!r}; expected single files")
        path = cdk_out / source["path"]
        if not path.is_file():
            raise PublishError(f"asset file {path} is missing: run the synthesis again")
        for destination in asset["destinations"].values():
            plan.append(
                Upload(
                    source=path,
                    bucket=resolve_placeholders(
                        destination["bucketName"], account=account, region=region, partition=partition
                    ),
                    key=resolve_placeholders(
                        destination["objectKey"], account=account, region=region, partition=partition
                    ),
                )
            )
    return plan


def ensure_bucket(s3, bucket: str, region: str, create: bool) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except s3.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code not in ("404", "NoSuchBucket", "NotFound"):
            raise PublishError(
                f"asset bucket {bucket} is not usable ({code}): check its owner and your rights"
            ) from error
    if not create:
        raise PublishError(f"asset bucket {bucket} does not exist: create it, or pass --create-bucket")
    options = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **options)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )


def upload(s3, plan: list[Upload]) -> None:
    for item in plan:
        try:
            s3.head_object(Bucket=item.bucket, Key=item.key)
            print(f"  present  s3://{item.bucket}/{item.key}")
            continue  # keys are content hashes: same key, same bytes
        except s3.exceptions.ClientError:
            pass
        s3.upload_file(str(item.source), item.bucket, item.key)
        print(f"  uploaded s3://{item.bucket}/{item.key}")


def deploy(cloudformation, template: str, stack_name: str, studio_role_arn: str, template_url: str) -> str:
    """Create or update the portfolio stack; return its final status."""
    request = {
        "StackName": stack_name,
        "Parameters": [{"ParameterKey": "StudioExecutionRoleArn", "ParameterValue": studio_role_arn}],
        "Capabilities": ["CAPABILITY_IAM"],
    }
    if len(template.encode()) <= TEMPLATE_BODY_LIMIT:
        request["TemplateBody"] = template
    else:
        request["TemplateURL"] = template_url
    try:
        cloudformation.describe_stacks(StackName=stack_name)
        exists = True
    except cloudformation.exceptions.ClientError:
        exists = False
    if exists:
        try:
            cloudformation.update_stack(**request)
        except cloudformation.exceptions.ClientError as error:
            if "No updates are to be performed" in str(error):
                return "UPDATE_COMPLETE (no changes)"
            raise
        cloudformation.get_waiter("stack_update_complete").wait(StackName=stack_name)
    else:
        cloudformation.create_stack(**request)
        cloudformation.get_waiter("stack_create_complete").wait(StackName=stack_name)
    return cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]


def main(argv: list[str] | None = None) -> int:
    import boto3  # imported here so `--help` works without AWS settings

    parser = argparse.ArgumentParser(prog="python -m service_catalog.publish", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--studio-role-arn",
        default=os.environ.get(STUDIO_ROLE_ENV),
        help=f"execution role of the Studio users who may create projects (env {STUDIO_ROLE_ENV})",
    )
    parser.add_argument(
        "--asset-bucket",
        default=os.environ.get(ASSET_BUCKET_ENV),
        help="bucket for the template assets (default: sagemaker-mlops-template-assets-<account>-<region>)",
    )
    parser.add_argument("--create-bucket", action="store_true", help="create the asset bucket if it is missing")
    parser.add_argument("--stack-name", default=STACK_NAME)
    parser.add_argument("--cdk-out", default="cdk.out", type=Path)
    parser.add_argument("--dist", default="dist", type=Path)
    args = parser.parse_args(argv)
    if not args.studio_role_arn:
        parser.error(f"--studio-role-arn (or {STUDIO_ROLE_ENV}) is required: the Studio execution role ARN")

    # botocore reads AWS_DEFAULT_REGION and profiles; CodeBuild and most tools set AWS_REGION.
    session = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
    region = session.region_name
    if not region:
        parser.error("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile's region)")
    identity = session.client("sts").get_caller_identity()
    account = identity["Account"]
    partition = identity["Arn"].split(":")[1]
    bucket = args.asset_bucket or f"sagemaker-mlops-template-assets-{account}-{region}"

    try:
        result = synthesize(repo_root=Path.cwd(), cdk_out=args.cdk_out, dist=args.dist, asset_bucket_name=bucket)
        manifest = json.loads(result.assets_manifest.read_text())
        plan = upload_plan(result.cdk_out, manifest, account=account, region=region, partition=partition)
        s3 = session.client("s3")
        for name in sorted({item.bucket for item in plan}):
            ensure_bucket(s3, name, region, args.create_bucket)
        print(f"uploading {len(plan)} assets")
        upload(s3, plan)
        template = result.portfolio_template.read_text()
        stack_key = next(item.key for item in plan if item.source == result.portfolio_template)
        url = f"https://{bucket}.s3.{region}.amazonaws.com/{stack_key}"
        print(f"deploying stack {args.stack_name}")
        status = deploy(session.client("cloudformation"), template, args.stack_name, args.studio_role_arn, url)
    except (PublishError, SynthesisError, ValueError) as error:
        print(f"publish failed: {error}", file=sys.stderr)
        return 1
    print(f"{args.stack_name}: {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
