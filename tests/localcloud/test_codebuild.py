"""CodeBuild builds run the buildspec for real: phases, variables, artifacts, reports and logs."""

from __future__ import annotations

import io
import os
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/codebuild-role"


def make_repo(state_root: Path, name: str, files: dict[str, str], branch: str = "main") -> str:
    """A bare repository at the local CodeCommit path with one more commit of ``files``; returns its id."""
    bare = state_root / "codecommit" / REGION / f"{name}.git"
    work = state_root / "worktrees" / name
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Tester",
        "GIT_AUTHOR_EMAIL": "tester@example.com",
        "GIT_COMMITTER_NAME": "Tester",
        "GIT_COMMITTER_EMAIL": "tester@example.com",
    }
    if not bare.exists():
        bare.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "--quiet", "--bare", "-b", branch, str(bare)], check=True)
        subprocess.run(["git", "clone", "--quiet", str(bare), str(work)], check=True, capture_output=True)
        subprocess.run(["git", "-C", str(work), "checkout", "--quiet", "-b", branch], check=True)
    for relative, text in files.items():
        path = work / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    subprocess.run(["git", "-C", str(work), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(work), "commit", "--quiet", "-m", f"update {name}"], check=True, env=env)
    subprocess.run(["git", "-C", str(work), "push", "--quiet", "origin", branch], check=True, capture_output=True)
    return subprocess.run(
        ["git", "-C", str(work), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def create_project(codebuild, name: str, repo: str | None = None, **extra) -> None:
    source = (
        {"type": "CODECOMMIT", "location": f"https://git-codecommit.{REGION}.amazonaws.com/v1/repos/{repo}"}
        if repo
        else {"type": "NO_SOURCE", "location": "none"}
    )
    if "buildspec" in extra:
        source["buildspec"] = extra.pop("buildspec")
    codebuild.create_project(
        name=name,
        source=source,
        serviceRole=ROLE,
        artifacts=extra.pop("artifacts", {"type": "NO_ARTIFACTS"}),
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
            "environmentVariables": extra.pop("variables", []),
        },
        **extra,
    )


def wait_build(codebuild, build_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        build = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
        if build["buildStatus"] != "IN_PROGRESS":
            return build
        assert time.monotonic() < deadline, f"build {build_id} still running: {build['currentPhase']}"
        time.sleep(0.1)


def phases(build: dict) -> dict[str, dict]:
    return {p["phaseType"]: p for p in build["phases"]}


def log_lines(logs, build: dict) -> list[str]:
    events = logs.get_log_events(logGroupName=build["logs"]["groupName"], logStreamName=build["logs"]["streamName"])[
        "events"
    ]
    return [e["message"] for e in events]


GOOD_BUILDSPEC = """\
version: 0.2
env:
  shell: bash
  variables:
    GREETING: hello
    FROM_SPEC: spec
  exported-variables:
    - IMAGE_TAG
    - GREETING
phases:
  install:
    runtime-versions:
      python: 3.12
    commands:
      - echo "installing"
  pre_build:
    commands:
      - export IMAGE_TAG="tag-${CODEBUILD_RESOLVED_SOURCE_VERSION:0:7}"
      - cd sub
  build:
    commands:
      - echo "in $(basename $(pwd)) $GREETING $FROM_SPEC $FROM_PROJECT $FROM_OVERRIDE"
      - mkdir -p ../out/nested && echo built > ../out/nested/result.txt
      - |
        cat > ../report.xml <<XML
        <testsuite name="unit"><testcase classname="t" name="ok"/>
          <testcase classname="t" name="bad"><failure message="boom"/></testcase></testsuite>
        XML
    finally:
      - echo "build finally ran"
  post_build:
    commands:
      - echo "post build sees succeeding=$CODEBUILD_BUILD_SUCCEEDING"
artifacts:
  base-directory: out
  files:
    - '**/*'
reports:
  unit-tests:
    files:
      - report.xml
"""


@pytest.fixture(scope="module")
def good_repo(cloud):
    return make_repo(cloud.state.root, "builds-good", {"buildspec.yml": GOOD_BUILDSPEC, "sub/keep.txt": "x"})


def test_build_runs_phases_in_order_with_variables_exports_artifacts_reports_and_logs(cloud, aws, good_repo):
    codebuild, s3 = aws("codebuild"), aws("s3")
    s3.create_bucket(Bucket="build-outputs")
    create_project(
        codebuild,
        "good",
        "builds-good",
        artifacts={
            "type": "S3",
            "location": "build-outputs",
            "path": "out",
            "name": "bundle.zip",
            "packaging": "ZIP",
        },
        variables=[
            {"name": "FROM_PROJECT", "value": "project", "type": "PLAINTEXT"},
            {"name": "FROM_SPEC", "value": "project-wins", "type": "PLAINTEXT"},
        ],
    )
    started = codebuild.start_build(
        projectName="good",
        environmentVariablesOverride=[{"name": "FROM_OVERRIDE", "value": "override", "type": "PLAINTEXT"}],
    )["build"]
    assert started["buildStatus"] == "IN_PROGRESS"
    build = wait_build(codebuild, started["id"])

    assert build["buildStatus"] == "SUCCEEDED", build["phases"]
    order = [p["phaseType"] for p in build["phases"]]
    assert order == [
        "SUBMITTED",
        "PROVISIONING",
        "DOWNLOAD_SOURCE",
        "INSTALL",
        "PRE_BUILD",
        "BUILD",
        "POST_BUILD",
        "UPLOAD_ARTIFACTS",
        "FINALIZING",
        "COMPLETED",
    ]
    assert all(p["phaseStatus"] == "SUCCEEDED" for p in build["phases"][:-1])
    assert build["resolvedSourceVersion"] == good_repo
    exported = {v["name"]: v["value"] for v in build["exportedEnvironmentVariables"]}
    assert exported == {"IMAGE_TAG": f"tag-{good_repo[:7]}", "GREETING": "hello"}

    lines = log_lines(aws("logs"), build)
    assert build["logs"]["groupName"] == "/aws/codebuild/good"
    assert "in sub hello project-wins project override" in lines
    assert "build finally ran" in lines
    assert "post build sees succeeding=1" in lines
    assert any("runtime-versions python: 3.12" in line and "local cloud Python" in line for line in lines)

    body = s3.get_object(Bucket="build-outputs", Key="out/bundle.zip")["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as bundle:
        assert bundle.namelist() == ["nested/result.txt"]
        assert bundle.read("nested/result.txt") == b"built\n"

    [report_arn] = build["reportArns"]
    cases = codebuild.describe_test_cases(reportArn=report_arn)["testCases"]
    assert {(c["name"], c["status"]) for c in cases} == {("ok", "SUCCEEDED"), ("bad", "FAILED")}
    group = codebuild.batch_get_reports(reportArns=[report_arn])["reports"][0]["reportGroupArn"]
    assert codebuild.list_reports_for_report_group(reportGroupArn=group)["reports"] == [report_arn]
    assert started["id"] in codebuild.list_builds_for_project(projectName="good")["ids"]
    assert started["id"] in codebuild.list_builds()["ids"]


FAILING_BUILDSPEC = """\
version: 0.2
phases:
  install:
    commands:
      - echo install ok
  build:
    commands:
      - echo "about to fail"
      - python -c "import sys; print('the reason'); sys.exit(3)"
      - echo "never printed"
    finally:
      - echo "cleanup after failure"
  post_build:
    commands:
      - echo "post_build succeeding=$CODEBUILD_BUILD_SUCCEEDING"
"""


def test_failing_command_fails_the_build_naming_command_exit_code_and_output(cloud, aws):
    codebuild = aws("codebuild")
    create_project(codebuild, "failing", buildspec=FAILING_BUILDSPEC)
    build = wait_build(codebuild, codebuild.start_build(projectName="failing")["build"]["id"])
    assert build["buildStatus"] == "FAILED"
    by_type = phases(build)
    assert by_type["BUILD"]["phaseStatus"] == "FAILED"
    message = by_type["BUILD"]["contexts"][0]["message"]
    assert "python -c" in message and "exit status 3" in message and "the reason" in message
    assert by_type["POST_BUILD"]["phaseStatus"] == "SUCCEEDED", "post_build still runs after a build failure"
    assert "UPLOAD_ARTIFACTS" not in by_type
    lines = log_lines(aws("logs"), build)
    assert "never printed" not in lines
    assert "cleanup after failure" in lines
    context = next(line for line in lines if "Phase context status code" in line)
    assert "COMMAND_EXECUTION_ERROR" in context and "exit status 3" in context, "the log says why the phase failed"
    assert "post_build succeeding=0" in lines


def test_a_continued_phase_failure_keeps_the_build_in_progress_until_it_ends(cloud, aws):
    """CodeBuild reports FAILED only once the build is over: the phases after a continued failure still run."""
    codebuild = aws("codebuild")
    spec = (
        "version: 0.2\nphases:\n  install:\n    on-failure: CONTINUE\n    commands:\n      - 'false'\n"
        "  build:\n    commands:\n      - sleep 1.5\n"
    )
    create_project(codebuild, "continued", buildspec=spec)
    build_id = codebuild.start_build(projectName="continued")["build"]["id"]
    deadline = time.monotonic() + 30
    while "BUILD" not in phases(codebuild.batch_get_builds(ids=[build_id])["builds"][0]):
        assert time.monotonic() < deadline, "the build phase never started"
        time.sleep(0.05)
    during = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
    assert during["buildStatus"] == "IN_PROGRESS", "the build phase is still running"
    assert wait_build(codebuild, build_id)["buildStatus"] == "FAILED"


def test_install_failure_skips_later_phases_unless_continue(cloud, aws):
    codebuild = aws("codebuild")
    abort = (
        "version: 0.2\nphases:\n  install:\n    commands:\n      - 'false'\n"
        "  build:\n    commands:\n      - echo built\n"
    )
    create_project(codebuild, "abort", buildspec=abort)
    build = wait_build(codebuild, codebuild.start_build(projectName="abort")["build"]["id"])
    assert build["buildStatus"] == "FAILED"
    assert "BUILD" not in phases(build)

    build = wait_build(
        codebuild,
        codebuild.start_build(
            projectName="abort",
            buildspecOverride=abort.replace("  install:\n", "  install:\n    on-failure: CONTINUE\n"),
        )["build"]["id"],
    )
    assert build["buildStatus"] == "FAILED", "a continued phase failure still fails the build"
    assert phases(build)["BUILD"]["phaseStatus"] == "SUCCEEDED"


def test_pip_install_of_pinned_requirements_is_satisfied_offline(cloud, aws):
    codebuild = aws("codebuild")
    spec = (
        "version: 0.2\nphases:\n  install:\n    commands:\n"
        "      - printf 'boto3\\nPyYAML==6.0.3\\n' > /tmp/req.txt\n"
        "      - pip install --quiet -r /tmp/req.txt\n"
        "  build:\n    commands:\n      - printf 'surely-not-installed-pkg==1.0\\n' > /tmp/missing.txt\n"
        "      - pip install --quiet -r /tmp/missing.txt\n"
    )
    create_project(codebuild, "pip", buildspec=spec)
    build = wait_build(codebuild, codebuild.start_build(projectName="pip")["build"]["id"])
    assert phases(build)["INSTALL"]["phaseStatus"] == "SUCCEEDED"
    assert phases(build)["BUILD"]["phaseStatus"] == "FAILED"
    assert "surely-not-installed-pkg" in phases(build)["BUILD"]["contexts"][0]["message"]


def test_bad_buildspec_fails_download_source_with_the_field_named(cloud, aws):
    codebuild = aws("codebuild")
    create_project(codebuild, "bad-spec", buildspec="version: 0.2\nphases:\n  compile:\n    commands: [make]\n")
    build = wait_build(codebuild, codebuild.start_build(projectName="bad-spec")["build"]["id"])
    assert build["buildStatus"] == "FAILED"
    context = phases(build)["DOWNLOAD_SOURCE"]["contexts"][0]
    assert context["statusCode"] == "YAML_FILE_ERROR" and "compile" in context["message"]


def test_stop_build_kills_the_running_program(cloud, aws):
    codebuild = aws("codebuild")
    create_project(codebuild, "slow", buildspec="version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 30\n")
    build_id = codebuild.start_build(projectName="slow")["build"]["id"]
    deadline = time.monotonic() + 20
    while codebuild.batch_get_builds(ids=[build_id])["builds"][0]["currentPhase"] != "BUILD":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started = time.monotonic()
    stopped = codebuild.stop_build(id=build_id)["build"]
    assert time.monotonic() - started < 5
    assert stopped["buildStatus"] == "STOPPED"


def test_unknown_project_is_a_clear_error(cloud, aws):
    codebuild = aws("codebuild")
    with pytest.raises(codebuild.exceptions.ResourceNotFoundException, match="no-such-project"):
        codebuild.start_build(projectName="no-such-project")


def test_event_rule_targeting_a_project_starts_a_build(cloud, aws):
    codebuild, events = aws("codebuild"), aws("events")
    create_project(codebuild, "on-event", buildspec="version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n")
    events.put_rule(Name="build-on-event", EventPattern='{"source": ["test.codebuild"]}')
    events.put_targets(
        Rule="build-on-event",
        Targets=[
            {
                "Id": "project",
                "Arn": f"arn:aws:codebuild:{REGION}:123456789012:project/on-event",
                "RoleArn": ROLE,
            }
        ],
    )
    events.put_events(Entries=[{"Source": "test.codebuild", "DetailType": "x", "Detail": "{}"}])
    ids = codebuild.list_builds_for_project(projectName="on-event")["ids"]
    assert len(ids) == 1
    assert wait_build(codebuild, ids[0])["buildStatus"] == "SUCCEEDED"


def _seed_files(folder: str) -> dict[str, str]:
    """The tracked files of one of this repository's seed folders, as the seed archive would hold them."""
    root = Path(__file__).resolve().parents[2]
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", folder], check=True, capture_output=True, text=True
    ).stdout.split()
    return {name[len(folder) + 1 :]: (root / name).read_text() for name in listed if (root / name).is_file()}


def test_the_modelbuild_buildspec_upserts_and_runs_the_sagemaker_pipeline(cloud, aws):
    project_name, project_id = "cbtest", "p-cbtest"
    bucket, group = f"sagemaker-project-{project_id}", f"{project_name}-{project_id}"
    make_repo(cloud.state.root, "cbtest-modelbuild", _seed_files("modelbuild"))
    aws("s3").create_bucket(Bucket=bucket)
    aws("sagemaker").create_model_package_group(ModelPackageGroupName=group)
    variables = {
        "SAGEMAKER_PROJECT_NAME": project_name,
        "SAGEMAKER_PROJECT_ID": project_id,
        "SAGEMAKER_PIPELINE_NAME": f"sagemaker-{project_name}",
        "SAGEMAKER_PIPELINE_ROLE_ARN": "arn:aws:iam::123456789012:role/service-role/pipeline-role",
        "ARTIFACT_BUCKET": bucket,
        "AWS_REGION": REGION,
        "MODEL_PACKAGE_GROUP_NAME": group,
    }
    create_project(
        aws("codebuild"),
        "cbtest-modelbuild",
        "cbtest-modelbuild",
        buildspec="codebuild-buildspec.yml",
        variables=[{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in variables.items()],
    )
    build_id = aws("codebuild").start_build(projectName="cbtest-modelbuild")["build"]["id"]
    build = wait_build(aws("codebuild"), build_id, timeout=600)
    lines = log_lines(aws("logs"), build)
    assert build["buildStatus"] == "SUCCEEDED", "\n".join(lines[-40:])
    assert "Pipeline run finished" in lines
    packages = aws("sagemaker").list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    assert [p["ModelApprovalStatus"] for p in packages] == ["PendingManualApproval"]
