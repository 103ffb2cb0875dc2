"""CloudFormation on the local cloud: the product template and the endpoint template, end to end.

Stacks are created with boto3 against the local cloud, and every resource is checked through its
own service's API, the way a user (or the pipelines) would see it.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import time
import zipfile
from pathlib import Path

import joblib
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from tests.localcloud.stack_waits import settled_stack

REPO = Path(__file__).resolve().parents[2]
ENDPOINT_TEMPLATE = REPO / "modeldeploy" / "endpoint-config-template.yml"
INFERENCE_SCRIPT = REPO / "modelbuild" / "pipelines" / "scripts" / "training" / "inference.py"
SYNTH_INPUTS = ("service_catalog", "modelbuild", "modeldeploy", "seed_code")
ASSET_BUCKET = "template-assets"
ROLE = "arn:aws:iam::123456789012:role/model-execution"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
CONNECTION = "arn:aws:codeconnections:us-east-1:123456789012:connection/abc-123"


# the synthesized product -------------------------------------------------------------------------
def _newest_source_mtime() -> float:
    return max(p.stat().st_mtime for folder in SYNTH_INPUTS for p in (REPO / folder).rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory) -> Path:
    """The repository's cdk.out if it is newer than its sources, else a fresh synthesis (~5 s)."""
    existing = sorted((REPO / "cdk.out").glob("*.product.template.json"))
    if len(existing) == 1 and existing[0].stat().st_mtime >= _newest_source_mtime():
        return REPO / "cdk.out"
    from service_catalog.synth import synthesize

    folder = tmp_path_factory.mktemp("synth")
    return synthesize(repo_root=REPO, cdk_out=folder / "cdk.out", dist=folder / "dist").cdk_out


@pytest.fixture(scope="module")
def product(cloud, cdk_out) -> str:
    """The product template, with its assets uploaded where its AssetBucketName parameter says."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=cloud.url, region_name="us-east-1")
    s3.create_bucket(Bucket=ASSET_BUCKET)
    manifest = json.loads(next(cdk_out.glob("*.assets.json")).read_text())
    for asset in manifest["files"].values():
        destination = next(iter(asset["destinations"].values()))
        s3.put_object(
            Bucket=ASSET_BUCKET,
            Key=destination["objectKey"],
            Body=(cdk_out / asset["source"]["path"]).read_bytes(),
        )
    return next(cdk_out.glob("*.product.template.json")).read_text()


def parameters(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in values.items()]


def project_parameters(project_id: str, codecommit: bool = False) -> list[dict[str, str]]:
    values = {
        "SageMakerProjectName": "demo",
        "SageMakerProjectId": project_id,
        "AssetBucketName": ASSET_BUCKET,
    }
    if not codecommit:
        values.update(
            SourceConnectionArn=CONNECTION,
            ModelBuildRepositoryId="acme/demo-modelbuild",
            ModelDeployRepositoryId="acme/demo-modeldeploy",
        )
    return parameters(values)


def stack(aws, name: str) -> dict:
    """The stack once its operation has ended (raises, as DescribeStacks does, once it is gone)."""
    settled_stack(aws("cloudformation"), name)
    return aws("cloudformation").describe_stacks(StackName=name)["Stacks"][0]


def create_product(aws, product: str, name: str, project_id: str, codecommit: bool = False) -> dict:
    aws("cloudformation").create_stack(
        StackName=name,
        TemplateBody=product,
        Parameters=project_parameters(project_id, codecommit),
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    created = stack(aws, name)
    assert created["StackStatus"] == "CREATE_COMPLETE", created.get("StackStatusReason")
    return created


# the product template ------------------------------------------------------------------------------
def test_product_stack_creates_every_resource(aws, product):
    create_product(aws, product, "project-main", "p-abc123")
    prefix = "sagemaker-demo-p-abc123"

    deploy = aws("codepipeline").get_pipeline(name=f"{prefix}-modeldeploy")["pipeline"]
    assert [s["name"] for s in deploy["stages"]] == [
        "Source",
        "Build",
        "DeployStaging",
        "TestStaging",
        "ApproveDeployment",
        "DeployProd",
    ]
    assert deploy["pipelineType"] == "V2"
    assert deploy["artifactStore"]["location"] == "sagemaker-project-p-abc123"
    staging = deploy["stages"][2]["actions"][0]
    assert staging["actionTypeId"] == {
        "category": "Deploy",
        "owner": "AWS",
        "provider": "CloudFormation",
        "version": "1",
    }
    assert staging["configuration"]["StackName"] == "sagemaker-demo-deploy-staging"
    assert staging["configuration"]["TemplateConfiguration"] == "BuildArtifact::staging-config-export.json"
    assert staging["inputArtifacts"] == [{"name": "BuildArtifact"}]
    source = deploy["stages"][0]["actions"][0]
    assert source["configuration"]["FullRepositoryId"] == "acme/demo-modeldeploy"
    assert source["outputArtifacts"] == [{"name": "SourceArtifact"}]
    build = aws("codepipeline").get_pipeline(name=f"{prefix}-modelbuild")["pipeline"]
    assert [s["name"] for s in build["stages"]] == ["Source", "Build"]

    projects = aws("codebuild").batch_get_projects(names=[f"{prefix}-modelbuild", f"{prefix}-modeldeploy"])
    by_name = {p["name"]: p for p in projects["projects"]}
    env = {v["name"]: v["value"] for v in by_name[f"{prefix}-modelbuild"]["environment"]["environmentVariables"]}
    assert env["SAGEMAKER_PIPELINE_NAME"] == "sagemaker-demo"
    assert env["ARTIFACT_BUCKET"] == "sagemaker-project-p-abc123"
    assert env["MODEL_PACKAGE_GROUP_NAME"] == "demo-p-abc123"
    assert env["SAGEMAKER_PIPELINE_ROLE_ARN"].startswith("arn:aws:iam::123456789012:role/")
    assert by_name[f"{prefix}-modelbuild"]["source"] == {
        "type": "CODEPIPELINE",
        "buildspec": "codebuild-buildspec.yml",
    }
    deploy_env = {
        v["name"]: v["value"] for v in by_name[f"{prefix}-modeldeploy"]["environment"]["environmentVariables"]
    }
    assert deploy_env["EXPORT_TEMPLATE_STAGING_CONFIG"] == "staging-config-export.json"
    assert by_name[f"{prefix}-modeldeploy"]["logsConfig"]["cloudWatchLogs"]["status"] == "ENABLED"

    group = aws("sagemaker").describe_model_package_group(ModelPackageGroupName="demo-p-abc123")
    assert group["ModelPackageGroupArn"].endswith(":model-package-group/demo-p-abc123")
    policy = json.loads(aws("s3").get_bucket_policy(Bucket="sagemaker-project-p-abc123")["Policy"])
    assert policy["Statement"][0]["Sid"] == "DenyInsecureTransport"
    # the TLS-only policy does not lock the local cloud (plain HTTP) out of the bucket
    aws("s3").put_object(Bucket="sagemaker-project-p-abc123", Key="data/probe.csv", Body=b"1")

    targets = aws("events").list_targets_by_rule(Rule="sagemaker-p-abc123-model-approved")["Targets"]
    assert targets[0]["Arn"].endswith(f":codepipeline:us-east-1:123456789012:{prefix}-modeldeploy")
    assert aws("lambda").get_function(FunctionName="sagemaker-p-abc123-cleanup")["Configuration"]["Handler"] == (
        "cleanup_handler.handler"
    )


def _register_package(aws, group: str, model_url: str) -> str:
    return aws("sagemaker").create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": IMAGE,
                    "ModelDataUrl": model_url,
                    "Environment": {
                        "SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                    },
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]


def test_deleting_the_product_stack_runs_the_cleanup_function(aws, product):
    created = create_product(aws, product, "project-cleanup", "p-clean1")
    bucket = "sagemaker-project-p-clean1"
    for version in (b"a", b"b"):  # versioned bucket: two versions of the same key
        aws("s3").put_object(Bucket=bucket, Key="models/model.tar.gz", Body=version)
    _register_package(aws, "demo-p-clean1", f"s3://{bucket}/models/model.tar.gz")
    endpoint_stack = "sagemaker-demo-deploy-staging"  # the name the cleanup function is told to delete
    aws("cloudformation").create_stack(
        StackName=endpoint_stack,
        TemplateBody=json.dumps(
            {"Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/demo/staging"}}}}
        ),
    )

    aws("cloudformation").delete_stack(StackName="project-cleanup")

    deleted = stack(aws, created["StackId"])
    assert deleted["StackStatus"] == "DELETE_COMPLETE", deleted.get("StackStatusReason")
    assert bucket not in [b["Name"] for b in aws("s3").list_buckets()["Buckets"]]
    with pytest.raises(aws("cloudformation").exceptions.ClientError, match="does not exist"):
        stack(aws, endpoint_stack)
    assert aws("logs").describe_log_groups(logGroupNamePrefix="/demo/staging")["logGroups"] == []
    with pytest.raises(aws("sagemaker").exceptions.ClientError, match="does not exist"):
        aws("sagemaker").describe_model_package_group(ModelPackageGroupName="demo-p-clean1")


def test_product_stack_with_codecommit_repositories(aws, product):
    create_product(aws, product, "project-codecommit", "p-cc1", codecommit=True)
    repository = aws("codecommit").get_repository(repositoryName="sagemaker-demo-modelbuild")["repositoryMetadata"]
    assert repository["repositoryName"] == "sagemaker-demo-modelbuild"
    source = aws("codepipeline").get_pipeline(name="sagemaker-demo-p-cc1-modelbuild")["pipeline"]["stages"][0]
    assert source["actions"][0]["actionTypeId"]["provider"] == "CodeCommit"
    assert source["actions"][0]["configuration"]["RepositoryName"] == "sagemaker-demo-modelbuild"
    rules = aws("events").list_rules(NamePrefix="sagemaker-p-cc1")["Rules"]
    assert len(rules) == 3  # two pushes, one approval


# custom resources ------------------------------------------------------------------------------------
HANDLERS = {
    "failing": """
import json, urllib.request
def handler(event, context):
    reason = "quota exceeded for " + event["ResourceProperties"]["Name"]
    body = json.dumps({"Status": "FAILED", "Reason": reason, "PhysicalResourceId": "x",
                       "StackId": event["StackId"], "RequestId": event["RequestId"],
                       "LogicalResourceId": event["LogicalResourceId"]}).encode()
    urllib.request.urlopen(urllib.request.Request(event["ResponseURL"], data=body, method="PUT"))
""",
    "returning": """
import boto3
def handler(event, context):
    if event["RequestType"] == "Delete":
        boto3.client("s3").delete_object(Bucket=event["ResourceProperties"]["Bucket"], Key="marker")
        return {}
    boto3.client("s3").put_object(Bucket=event["ResourceProperties"]["Bucket"], Key="marker", Body=b"made")
    remaining = context.get_remaining_time_in_millis()
    return {"Greeting": "hello " + event["ResourceProperties"]["Name"], "Remaining": remaining}
""",
}


def _function_template(handler: str, properties: dict) -> str:
    return json.dumps(
        {
            "Resources": {
                "Role": {
                    "Type": "AWS::IAM::Role",
                    "Properties": {
                        "AssumeRolePolicyDocument": {
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Principal": {"Service": "lambda.amazonaws.com"},
                                    "Action": "sts:AssumeRole",
                                }
                            ]
                        }
                    },
                },
                "Function": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Code": {"S3Bucket": ASSET_BUCKET, "S3Key": f"{handler}.zip"},
                        "Handler": "index.handler",
                        "Runtime": "python3.12",
                        "Timeout": 60,
                        "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    },
                },
                "Custom": {
                    "Type": "Custom::Probe",
                    "Properties": {"ServiceToken": {"Fn::GetAtt": ["Function", "Arn"]}, **properties},
                },
            },
            "Outputs": {"Greeting": {"Value": {"Fn::GetAtt": ["Custom", "Greeting"]}}}
            if handler == "returning"
            else {},
        }
    )


def _upload_handler(aws, name: str) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("index.py", HANDLERS[name])
    aws("s3").put_object(Bucket=ASSET_BUCKET, Key=f"{name}.zip", Body=archive.getvalue())


def test_a_failing_custom_resource_fails_the_stack_with_its_reason(aws, product):
    _upload_handler(aws, "failing")
    aws("cloudformation").create_stack(
        StackName="custom-failing", TemplateBody=_function_template("failing", {"Name": "demo"})
    )
    failed = stack(aws, "custom-failing")
    assert failed["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "quota exceeded for demo" in failed["StackStatusReason"]
    events = aws("cloudformation").describe_stack_events(StackName="custom-failing")["StackEvents"]
    custom = [e for e in events if e["LogicalResourceId"] == "Custom"]
    assert custom and custom[0]["ResourceStatus"] == "CREATE_FAILED"
    assert "Received response status [FAILED]" in custom[0]["ResourceStatusReason"]
    functions = [f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]]
    assert not [name for name in functions if name.startswith("custom-failing-")]  # rolled back


def test_a_custom_resource_returning_data_creates_and_deletes(aws, product):
    _upload_handler(aws, "returning")
    aws("s3").create_bucket(Bucket="custom-marker")
    aws("cloudformation").create_stack(
        StackName="custom-returning",
        TemplateBody=_function_template("returning", {"Name": "world", "Bucket": "custom-marker"}),
    )
    created = stack(aws, "custom-returning")
    assert created["StackStatus"] == "CREATE_COMPLETE", created.get("StackStatusReason")
    assert created["Outputs"][0]["OutputValue"] == "hello world"
    assert aws("s3").get_object(Bucket="custom-marker", Key="marker")["Body"].read() == b"made"
    aws("cloudformation").delete_stack(StackName="custom-returning")
    assert settled_stack(aws("cloudformation"), "custom-returning") is None
    assert aws("s3").list_objects_v2(Bucket="custom-marker").get("KeyCount") == 0


# the endpoint template -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_package(cloud, tmp_path_factory) -> str:
    """An approved package whose model.tar.gz really serves (model.joblib + code/inference.py)."""
    import boto3

    folder = tmp_path_factory.mktemp("model")
    data = load_breast_cancer()
    (folder / "code").mkdir()
    joblib.dump(LogisticRegression(max_iter=5000).fit(data.data, data.target), folder / "model.joblib")
    shutil.copy(INFERENCE_SCRIPT, folder / "code" / "inference.py")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name in ("model.joblib", "code", "code/inference.py"):
            tar.add(folder / name, arcname=name, recursive=False)
    s3 = boto3.client("s3", endpoint_url=cloud.url, region_name="us-east-1")
    s3.create_bucket(Bucket="endpoint-artifacts")
    s3.put_object(Bucket="endpoint-artifacts", Key="model.tar.gz", Body=archive.getvalue())
    sagemaker = boto3.client("sagemaker", endpoint_url=cloud.url, region_name="us-east-1")
    sagemaker.create_model_package_group(ModelPackageGroupName="endpoint-models")
    return _register_package(
        lambda service: boto3.client(service, endpoint_url=cloud.url, region_name="us-east-1"),
        "endpoint-models",
        "s3://endpoint-artifacts/model.tar.gz",
    )


def stage_parameters(stage: str, package: str, **overrides) -> list[dict[str, str]]:
    """What build.py writes for a stage: the stage file plus the project's values."""
    document = json.loads((REPO / "modeldeploy" / f"{stage}-config.json").read_text())
    values = {
        **document["Parameters"],
        "SageMakerProjectName": "demo",
        "SageMakerProjectId": "p-abc123",
        "ModelPackageName": package,
        "ModelExecutionRoleArn": ROLE,
        "StageName": stage,
        "EndpointName": f"demo-{stage}",
        "DataCaptureUploadPath": f"s3://endpoint-artifacts/datacapture-{stage}",
        **overrides,
    }
    return parameters({k: json.dumps(v) if isinstance(v, bool) else v for k, v in values.items()})


def wait_for(aws, endpoint: str, statuses=("InService", "Failed"), timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = aws("sagemaker").describe_endpoint(EndpointName=endpoint)
        if described["EndpointStatus"] in statuses or time.monotonic() > deadline:
            return described
        time.sleep(0.3)


def test_staging_endpoint_stack_then_an_update_keeps_the_same_endpoint(aws, model_package):
    cfn = aws("cloudformation")
    cfn.create_stack(
        StackName="sagemaker-demo-deploy-staging-test",
        TemplateBody=ENDPOINT_TEMPLATE.read_text(),
        Parameters=stage_parameters("staging", model_package),
    )
    created = stack(aws, "sagemaker-demo-deploy-staging-test")
    assert created["StackStatus"] == "CREATE_COMPLETE", created.get("StackStatusReason")
    assert created["Outputs"] == [
        {
            "OutputKey": "EndpointName",
            "OutputValue": "demo-staging",
            "Description": "Name of the endpoint this stack serves.",
        }
    ]
    endpoint = aws("sagemaker").describe_endpoint(EndpointName="demo-staging")
    policy = endpoint["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    assert [a["AlarmName"] for a in endpoint["LastDeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]] == [
        "demo-staging-invocation-5xx-errors",
        "demo-staging-model-latency-p95",
    ]
    config = aws("sagemaker").describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 1
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == "s3://endpoint-artifacts/datacapture-staging"
    model = aws("sagemaker").describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["Containers"][0]["ModelPackageName"] == model_package
    alarms = aws("cloudwatch").describe_alarms(AlarmNamePrefix="demo-staging-")["MetricAlarms"]
    assert {a["AlarmName"]: a["Threshold"] for a in alarms} == {
        "demo-staging-invocation-5xx-errors": 5.0,
        "demo-staging-model-latency-p95": 500000.0,
    }
    assert (
        aws("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    )  # staging: min == max, autoscaling off
    assert wait_for(aws, "demo-staging")["EndpointStatus"] == "InService"

    cfn.update_stack(
        StackName="sagemaker-demo-deploy-staging-test",
        TemplateBody=ENDPOINT_TEMPLATE.read_text(),
        Parameters=stage_parameters("staging", model_package, EndpointInstanceCount=2),
    )
    updated = stack(aws, "sagemaker-demo-deploy-staging-test")
    assert updated["StackStatus"] == "UPDATE_COMPLETE", updated.get("StackStatusReason")
    after = wait_for(aws, "demo-staging", statuses=("InService", "Failed"))
    assert after["EndpointArn"] == endpoint["EndpointArn"]
    assert after["EndpointConfigName"] != endpoint["EndpointConfigName"]
    new_config = aws("sagemaker").describe_endpoint_config(EndpointConfigName=after["EndpointConfigName"])
    assert new_config["ProductionVariants"][0]["InitialInstanceCount"] == 2
    with pytest.raises(aws("sagemaker").exceptions.ClientError):  # replaced configuration deleted after the update
        aws("sagemaker").describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])

    cfn.delete_stack(StackName="sagemaker-demo-deploy-staging-test")
    assert settled_stack(cfn, "sagemaker-demo-deploy-staging-test") is None
    with pytest.raises(aws("sagemaker").exceptions.ClientError):
        aws("sagemaker").describe_endpoint(EndpointName="demo-staging")
    assert aws("cloudwatch").describe_alarms(AlarmNamePrefix="demo-staging-")["MetricAlarms"] == []


def test_prod_endpoint_stack_has_autoscaling_and_canary(aws, model_package):
    aws("cloudformation").create_stack(
        StackName="sagemaker-demo-deploy-prod-test",
        TemplateBody=ENDPOINT_TEMPLATE.read_text(),
        Parameters=stage_parameters("prod", model_package),
    )
    created = stack(aws, "sagemaker-demo-deploy-prod-test")
    assert created["StackStatus"] == "CREATE_COMPLETE", created.get("StackStatusReason")
    endpoint = aws("sagemaker").describe_endpoint(EndpointName="demo-prod")
    routing = endpoint["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "CANARY" and routing["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 50}
    targets = aws("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
        ("endpoint/demo-prod/variant/AllTraffic", 2, 4)
    ]
    policies = aws("application-autoscaling").describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    assert [p["PolicyName"] for p in policies] == ["demo-prod-invocations-per-instance"]
    assert policies[0]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 750.0
    aws("cloudformation").delete_stack(StackName="sagemaker-demo-deploy-prod-test")
    assert settled_stack(aws("cloudformation"), "sagemaker-demo-deploy-prod-test") is None
    assert (
        aws("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    )


def test_an_unknown_model_package_fails_the_endpoint_stack_clearly(aws):
    missing = "arn:aws:sagemaker:us-east-1:123456789012:model-package/nowhere/1"
    aws("cloudformation").create_stack(
        StackName="endpoint-missing-package",
        TemplateBody=ENDPOINT_TEMPLATE.read_text(),
        Parameters=stage_parameters("staging", missing, EndpointName="demo-missing"),
    )
    failed = stack(aws, "endpoint-missing-package")
    assert failed["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "[Model]" in failed["StackStatusReason"] and "nowhere/1 does not exist" in failed["StackStatusReason"]
    assert aws("cloudwatch").describe_alarms(AlarmNamePrefix="demo-missing-")["MetricAlarms"] == []


def test_project_bucket_settings_and_object_created_events(cloud):
    """Versioning, the public access block and EventBridge notifications of a stack's bucket are
    real: an object landing under data/ reaches a rule (the data-arrival trigger's path)."""
    template = {
        "Resources": {
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": "landing-zone-bucket",
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                    "NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}},
                },
            }
        }
    }
    cloudformation, s3, sqs, events = (cloud.client(s) for s in ("cloudformation", "s3", "sqs", "events"))
    cloudformation.create_stack(StackName="landing-zone", TemplateBody=json.dumps(template))
    assert settled_stack(cloudformation, "landing-zone")["StackStatus"] == "CREATE_COMPLETE"
    assert s3.get_bucket_versioning(Bucket="landing-zone-bucket")["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket="landing-zone-bucket")["PublicAccessBlockConfiguration"]["BlockPublicAcls"]
    queue = sqs.create_queue(QueueName="landed")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="landed",
        EventPattern=json.dumps(
            {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"bucket": {"name": ["landing-zone-bucket"]}, "object": {"key": [{"prefix": "data/"}]}},
            }
        ),
    )
    events.put_targets(Rule="landed", Targets=[{"Id": "queue", "Arn": queue_arn}])
    s3.put_object(Bucket="landing-zone-bucket", Key="elsewhere/x.csv", Body=b"a")
    s3.put_object(Bucket="landing-zone-bucket", Key="data/new.csv", Body=b"a")
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["detail"]["object"]["key"] for m in messages] == ["data/new.csv"]
