"""Names and paths from the API or a template are checked, and contained, before they touch the disk.

Each test is an attack made through the real HTTP API with boto3: a job, stack, build or endpoint
whose name, S3 key, local path or output link would have reached a host path outside the state
folder. Each asserts the AWS error a user would see (its code, and a message that names the field)
and that the host is untouched: a marker folder outside the state folder is still there, with its
contents, and no file appeared where the attack aimed.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

BUCKET = "names-bucket"
ROLE = "arn:aws:iam::123456789012:role/attacker"
SECRET = "host-secret-5f1c2e"


@pytest.fixture()
def victim(tmp_path) -> Path:
    """A host folder outside the state folder, with a file whose content must never leak or vanish."""
    folder = tmp_path / "victim"
    folder.mkdir()
    (folder / "secret.txt").write_text(SECRET)
    return folder


def _untouched(folder: Path) -> None:
    assert folder.is_dir(), f"{folder} was removed"
    assert sorted(p.name for p in folder.iterdir()) == ["secret.txt"], "files appeared in the victim folder"
    assert (folder / "secret.txt").read_text() == SECRET


def _refused(call, code: str, member: str) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response["Error"]
    assert error["Code"] == code, error
    assert member in error["Message"], error
    return error["Message"]


@pytest.fixture(scope="module")
def bucket(cloud):
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="data/rows.txt", Body=b"1 2 3")
    return BUCKET


def _processing(name: str, entrypoint: list[str], inputs=None, output_path="/opt/ml/processing/output") -> dict:
    return dict(
        ProcessingJobName=name,
        RoleArn=ROLE,
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
        AppSpecification={
            "ImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3",
            "ContainerEntrypoint": entrypoint,
        },
        ProcessingInputs=inputs or [],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/out/{name}",
                        "LocalPath": output_path,
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    )


def _input(uri: str, local_path: str = "/opt/ml/processing/input") -> dict:
    return {
        "InputName": "data",
        "S3Input": {"S3Uri": uri, "LocalPath": local_path, "S3DataType": "S3Prefix", "S3InputMode": "File"},
    }


def _wait_job(sagemaker, name: str, kind: str = "processing") -> dict:
    describe = sagemaker.describe_processing_job if kind == "processing" else sagemaker.describe_training_job
    key = "ProcessingJobName" if kind == "processing" else "TrainingJobName"
    status = "ProcessingJobStatus" if kind == "processing" else "TrainingJobStatus"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = describe(**{key: name})
        if job[status] != "InProgress":
            return job
        time.sleep(0.1)
    raise TimeoutError(name)


def _all_bodies(s3, bucket: str) -> bytes:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return b"".join(s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys)


# SageMaker jobs ------------------------------------------------------------------------------------
def test_a_processing_job_named_after_a_host_folder_is_refused_and_the_folder_stays(cloud, bucket, victim):
    sagemaker = cloud.client("sagemaker")
    message = _refused(
        lambda: sagemaker.create_processing_job(**_processing(str(victim), ["true"])),
        "ValidationException",
        "processingJobName",
    )
    assert f"Value '{victim}'" in message and "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}" in message
    _refused(
        lambda: sagemaker.describe_processing_job(ProcessingJobName=f"../../{victim.name}"),
        "ValidationException",
        "processingJobName",
    )
    _untouched(victim)
    assert not sagemaker.list_processing_jobs(NameContains="victim")["ProcessingJobSummaries"]


def test_a_training_job_name_with_dot_dot_is_refused(cloud, bucket, victim):
    sagemaker = cloud.client("sagemaker")
    relative = os.path.relpath(victim, cloud.state.root / "jobs")
    _refused(
        lambda: sagemaker.create_training_job(
            TrainingJobName=relative,
            RoleArn=ROLE,
            AlgorithmSpecification={
                "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3",
                "TrainingInputMode": "File",
            },
            OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/models"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        ),
        "ValidationException",
        "trainingJobName",
    )
    _untouched(victim)


def test_a_channel_name_with_dot_dot_is_refused(cloud, bucket, tmp_path):
    sagemaker = cloud.client("sagemaker")
    message = _refused(
        lambda: sagemaker.create_training_job(
            TrainingJobName="channel-escape",
            RoleArn=ROLE,
            AlgorithmSpecification={
                "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3",
                "TrainingInputMode": "File",
            },
            InputDataConfig=[
                {
                    "ChannelName": "../../x",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/data"}},
                }
            ],
            OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/models"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
            HyperParameters={"sagemaker_program": "train.py"},
        ),
        "ValidationException",
        "inputDataConfig.1.member.channelName",
    )
    assert "Value '../../x'" in message
    _refused(
        lambda: sagemaker.describe_training_job(TrainingJobName="channel-escape"),
        "ValidationException",
        "channel-escape",
    )
    assert not (cloud.state.root / "jobs" / "channel-escape").exists(), "a refused job left its folder behind"


@pytest.mark.parametrize(
    "local_path", ["/opt/ml/../../etc", "/opt/ml/processing/../../../tmp/x", "opt/ml/processing/x"]
)
def test_a_local_path_that_leaves_opt_ml_is_refused(cloud, bucket, local_path):
    sagemaker = cloud.client("sagemaker")
    request = _processing("local-path-escape", ["true"], [_input(f"s3://{BUCKET}/data", local_path)])
    message = _refused(
        lambda: sagemaker.create_processing_job(**request),
        "ValidationException",
        "processingInputs.1.member.s3Input.localPath",
    )
    assert local_path in message
    output = _processing("local-path-escape", ["true"], output_path=local_path)
    _refused(
        lambda: sagemaker.create_processing_job(**output),
        "ValidationException",
        "processingOutputConfig.outputs.1.member.s3Output.localPath",
    )


def test_an_s3_key_with_dot_dot_fails_the_job_naming_the_key_and_writes_nothing_outside(cloud, bucket):
    s3, sagemaker = cloud.client("s3"), cloud.client("sagemaker")
    name = "key-escape"
    local = cloud.state.root / "jobs" / name / "ml" / "processing" / "input"
    key = "x/" + "../" * len(local.relative_to(cloud.state.root.parent).parts) + "escape.txt"  # next to the state
    landing = (local / key[len("x/") :]).resolve()
    assert not landing.is_relative_to(cloud.state.root) and not landing.exists()
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"escaped")
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"escaped"  # a legal key on S3

    sagemaker.create_processing_job(**_processing(name, ["true"], [_input(f"s3://{BUCKET}/x")]))
    job = _wait_job(sagemaker, name)

    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError") and key in job["FailureReason"], job["FailureReason"]
    assert not landing.exists(), f"the object was written to {landing}"


SYMLINK_SCRIPT = """
import os, pathlib
out = pathlib.Path('/opt/ml/processing/output')
(out / 'real.txt').write_text('inside')
os.symlink('real.txt', out / 'alias.txt')
if os.environ.get('LEAK'):
    os.symlink(os.environ['LEAK'], out / 'leak.txt')
"""


def test_a_link_in_a_job_output_to_a_host_file_fails_the_job_and_uploads_nothing_of_it(cloud, bucket, victim):
    s3, sagemaker = cloud.client("s3"), cloud.client("sagemaker")
    s3.put_object(Bucket=BUCKET, Key="code/links.py", Body=SYMLINK_SCRIPT.encode())
    code = [_input(f"s3://{BUCKET}/code/links.py", "/opt/ml/processing/code")]
    entry = ["python3", "/opt/ml/processing/code/links.py"]

    inside = _processing("link-inside", entry, code)
    sagemaker.create_processing_job(**inside)
    job = _wait_job(sagemaker, "link-inside")
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    body = s3.get_object(Bucket=BUCKET, Key="out/link-inside/alias.txt")["Body"].read()
    assert body == b"inside", "a link to a file of the job itself uploads that file's content"

    leaking = {**_processing("link-leak", entry, code), "Environment": {"LEAK": str(victim / "secret.txt")}}
    sagemaker.create_processing_job(**leaking)
    job = _wait_job(sagemaker, "link-leak")
    assert job["ProcessingJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith("ClientError") and "/opt/ml/processing/output/leak.txt" in reason, reason
    assert "symbolic link" in reason
    assert SECRET.encode() not in _all_bodies(s3, BUCKET)
    _untouched(victim)


def test_a_link_in_a_training_model_folder_to_a_host_file_fails_the_job(cloud, bucket, victim):
    s3, sagemaker = cloud.client("s3"), cloud.client("sagemaker")
    sagemaker.create_training_job(
        TrainingJobName="model-link-leak",
        RoleArn=ROLE,
        AlgorithmSpecification={
            "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3",
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["ln", "-s", str(victim / "secret.txt"), "/opt/ml/model/model.joblib"],
        },
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    job = _wait_job(sagemaker, "model-link-leak", "training")
    assert job["TrainingJobStatus"] == "Failed"
    assert "/opt/ml/model/model.joblib" in job["FailureReason"] and "symbolic link" in job["FailureReason"]
    assert SECRET.encode() not in _all_bodies(s3, BUCKET)
    _untouched(victim)


# SageMaker models, endpoint configurations, endpoints, pipelines -----------------------------------
def test_endpoint_model_config_variant_and_pipeline_names_are_checked(cloud, victim):
    sagemaker = cloud.client("sagemaker")
    relative = os.path.relpath(victim, cloud.state.root / "endpoints" / "us-east-1")
    _refused(
        lambda: sagemaker.create_model(
            ModelName="../model",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
            },
        ),
        "ValidationException",
        "modelName",
    )
    sagemaker.create_model(
        ModelName="good-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"},
    )
    variant = {
        "VariantName": "../v",
        "ModelName": "good-model",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    _refused(
        lambda: sagemaker.create_endpoint_config(EndpointConfigName="good-config", ProductionVariants=[variant]),
        "ValidationException",
        "productionVariants.1.member.variantName",
    )
    _refused(
        lambda: sagemaker.create_endpoint_config(
            EndpointConfigName="../config", ProductionVariants=[{**variant, "VariantName": "AllTraffic"}]
        ),
        "ValidationException",
        "endpointConfigName",
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="good-config", ProductionVariants=[{**variant, "VariantName": "AllTraffic"}]
    )
    _refused(
        lambda: sagemaker.create_endpoint(EndpointName=relative, EndpointConfigName="good-config"),
        "ValidationException",
        "endpointName",
    )
    assert relative not in [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]
    _refused(
        lambda: sagemaker.create_pipeline(
            PipelineName="../pipeline",
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn=ROLE,
        ),
        "ValidationException",
        "pipelineName",
    )
    _untouched(victim)


# CloudFormation and CodeCommit ---------------------------------------------------------------------
def _stack_outcome(cloudformation, name: str, template: dict) -> dict:
    try:
        cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    except ClientError:
        pass  # refused on the call is as good as failed in the stack
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
        if not stacks[0]["StackStatus"].endswith("IN_PROGRESS"):
            return stacks[0]
        time.sleep(0.1)
    raise TimeoutError(name)


def test_a_stack_repository_named_after_a_host_folder_fails_and_the_folder_stays(cloud, aws, victim):
    cloudformation, codecommit = aws("cloudformation"), aws("codecommit")
    target = victim.parent / "target.git"  # where <state>/codecommit/<region>/<name>.git would have landed
    target.mkdir()
    (target / "keep.txt").write_text("keep")
    name = os.path.relpath(victim.parent / "target", cloud.state.root / "codecommit" / "us-east-1")
    template = {"Resources": {"Repo": {"Type": "AWS::CodeCommit::Repository", "Properties": {"RepositoryName": name}}}}

    stack = _stack_outcome(cloudformation, "repo-escape", template)

    assert stack["StackStatus"] in ("CREATE_FAILED", "ROLLBACK_COMPLETE"), stack
    assert "repositoryName" in stack["StackStatusReason"] and name in stack["StackStatusReason"]
    assert (target / "keep.txt").read_text() == "keep" and sorted(p.name for p in target.iterdir()) == ["keep.txt"]
    assert name not in [r["repositoryName"] for r in codecommit.list_repositories()["repositories"]]
    _untouched(victim)


def test_codecommit_calls_with_a_path_for_a_name_are_refused(aws):
    codecommit = aws("codecommit")
    _refused(
        lambda: codecommit.create_repository(repositoryName="../../x"),
        "InvalidRepositoryNameException",
        "repository name",
    )
    _refused(
        lambda: codecommit.get_branch(repositoryName="../../x", branchName="main"),
        "InvalidRepositoryNameException",
        "repositoryName",
    )


# CodeBuild -------------------------------------------------------------------------------------------
def _project(codebuild, name: str, buildspec: str, artifacts: dict | None = None) -> None:
    codebuild.create_project(
        name=name,
        source={"type": "NO_SOURCE", "location": "none", "buildspec": buildspec},
        serviceRole=ROLE,
        artifacts=artifacts or {"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
    )


def _wait_build(codebuild, build_id: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        build = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
        if build["buildStatus"] != "IN_PROGRESS":
            return build
        time.sleep(0.1)
    raise TimeoutError(build_id)


def test_a_codebuild_project_name_with_a_path_is_refused(cloud, aws, victim):
    codebuild = aws("codebuild")
    # starts with a letter and ends with one, as moto's own check asks: only CodeBuild's pattern refuses it
    name = "a/" + os.path.relpath(victim / "x", cloud.state.root / "codebuild" / "builds" / "a")
    message = _refused(lambda: _project(codebuild, name, "version: 0.2"), "InvalidInputException", "'name'")
    assert "[A-Za-z0-9][A-Za-z0-9\\-_]{1,149}" in message
    assert name not in codebuild.list_projects()["projects"]
    _untouched(victim)


def test_build_and_execution_ids_that_are_paths_never_reach_the_disk(cloud, aws, victim):
    codebuild, codepipeline = aws("codebuild"), aws("codepipeline")
    (victim / "forged_00000000-0000-4000-8000-000000000000.json").write_text(json.dumps({"id": SECRET}))
    forged = os.path.relpath(victim / "forged", cloud.state.root / "codebuild" / "builds")
    answer = codebuild.batch_get_builds(ids=[f"{forged}:00000000-0000-4000-8000-000000000000"])
    assert answer["builds"] == [] and len(answer["buildsNotFound"]) == 1
    assert SECRET not in json.dumps(answer, default=str)

    (victim / "execution.json").write_text(json.dumps({"pipelineName": "p", "secret": SECRET}))
    execution = os.path.relpath(victim / "execution", cloud.state.root / "codepipeline" / "executions")
    _refused(
        lambda: codepipeline.get_pipeline_execution(pipelineName="p", pipelineExecutionId=execution),
        "ValidationException",
        "pipelineExecutionId",
    )
    (victim / "execution.json").unlink()
    (victim / "forged_00000000-0000-4000-8000-000000000000.json").unlink()
    _untouched(victim)


LINK_BUILDSPEC = """
version: 0.2
phases:
  build:
    commands:
      - echo inside > real.txt
      - ln -s real.txt alias.txt
      - ln -s {secret} leak.txt
artifacts:
  files:
    - '**/*'
"""


def test_a_build_artifact_link_to_a_host_file_is_left_out_and_logged(cloud, aws, victim):
    codebuild, s3, logs = aws("codebuild"), aws("s3"), aws("logs")
    s3.create_bucket(Bucket="link-artifacts")
    artifacts = {"type": "S3", "location": "link-artifacts", "name": "bundle.zip", "packaging": "ZIP"}
    _project(codebuild, "link-artifacts", LINK_BUILDSPEC.format(secret=victim / "secret.txt"), artifacts)

    build = _wait_build(codebuild, codebuild.start_build(projectName="link-artifacts")["build"]["id"])

    assert build["buildStatus"] == "SUCCEEDED", build["phases"]
    bundle = zipfile.ZipFile(io.BytesIO(s3.get_object(Bucket="link-artifacts", Key="bundle.zip")["Body"].read()))
    assert sorted(bundle.namelist()) == ["alias.txt", "real.txt"]
    assert bundle.read("alias.txt") == b"inside\n"
    assert SECRET.encode() not in _all_bodies(s3, "link-artifacts")
    events = logs.get_log_events(logGroupName=build["logs"]["groupName"], logStreamName=build["logs"]["streamName"])
    assert any("Skipping artifact leak.txt" in e["message"] for e in events["events"])
    _untouched(victim)


# CodePipeline ----------------------------------------------------------------------------------------
def _host_repository(folder: Path) -> None:
    """A bare git repository on the host, outside the state folder, holding the secret."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
    }
    work = folder.parent / "host-work"
    subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", str(folder)], check=True)
    subprocess.run(["git", "init", "--quiet", "-b", "main", str(work)], check=True)
    (work / "secret.txt").write_text(SECRET)
    subprocess.run(["git", "-C", str(work), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(work), "commit", "--quiet", "-m", "secret"], check=True, env=env)
    subprocess.run(["git", "-C", str(work), "push", "--quiet", str(folder), "main"], check=True, capture_output=True)


def test_a_pipeline_source_naming_a_host_repository_fails_and_archives_nothing(cloud, aws, tmp_path):
    s3, codepipeline = aws("s3"), aws("codepipeline")
    _host_repository(tmp_path / "host-repo.git")
    name = os.path.relpath(tmp_path / "host-repo", cloud.state.root / "codecommit" / "us-east-1")
    s3.create_bucket(Bucket="escape-artifacts")
    source = {
        "name": "Source",
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
        "configuration": {"RepositoryName": name, "BranchName": "main"},
        "outputArtifacts": [{"name": "SourceArtifact"}],
    }
    approve = {
        "name": "Approve",
        "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
    }
    trust = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
    }
    role = aws("iam").create_role(RoleName="escape-pipeline", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    codepipeline.create_pipeline(
        pipeline={
            "name": "escape-pipeline",
            "roleArn": role,
            "artifactStore": {"type": "S3", "location": "escape-artifacts"},
            "stages": [{"name": "Source", "actions": [source]}, {"name": "Approve", "actions": [approve]}],
        }
    )
    execution_id = codepipeline.start_pipeline_execution(name="escape-pipeline")["pipelineExecutionId"]
    deadline = time.monotonic() + 30
    while (
        done := codepipeline.get_pipeline_execution(pipelineName="escape-pipeline", pipelineExecutionId=execution_id)
    )["pipelineExecution"]["status"] == "InProgress":
        assert time.monotonic() < deadline, "the execution never finished"
        time.sleep(0.1)

    assert done["pipelineExecution"]["status"] == "Failed"
    state = {s["stageName"]: s for s in codepipeline.get_pipeline_state(name="escape-pipeline")["stageStates"]}
    message = state["Source"]["actionStates"][0]["latestExecution"]["errorDetails"]["message"]
    assert "repositoryName" in message and name in message, message
    assert SECRET.encode() not in _all_bodies(s3, "escape-artifacts")


REPORT_BUILDSPEC = """
version: 0.2
phases:
  build:
    commands:
      - echo built
reports:
  stolen:
    base-directory: {base}
    files:
      - '*.xml'
"""


def test_a_report_base_directory_outside_the_build_reads_no_host_file(cloud, aws, victim):
    codebuild, logs = aws("codebuild"), aws("logs")
    (victim / "results.xml").write_text(f'<testsuite name="s"><testcase name="{SECRET}"/></testsuite>')
    src = cloud.state.root / "codebuild" / "work" / "build-uuid" / "ml" / "src"  # one folder per build, as deep
    _project(codebuild, "report-escape", REPORT_BUILDSPEC.format(base=os.path.relpath(victim, src)))

    build = _wait_build(codebuild, codebuild.start_build(projectName="report-escape")["build"]["id"])

    assert build["buildStatus"] == "SUCCEEDED", build["phases"]
    for arn in codebuild.list_reports()["reports"]:
        assert SECRET not in json.dumps(codebuild.describe_test_cases(reportArn=arn)["testCases"])
    events = logs.get_log_events(logGroupName=build["logs"]["groupName"], logStreamName=build["logs"]["streamName"])
    assert any("report stolen" in e["message"] and "outside" in e["message"] for e in events["events"])
    (victim / "results.xml").unlink()
    _untouched(victim)
