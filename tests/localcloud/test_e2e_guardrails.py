"""End to end: the shipped prod-config.json's guardrails, with the seed code unmodified, under load.

One project reaches production through the real ModelDeploy CodePipeline. Then, under a steady load
of single-row requests (a third of them "field rows" with a negative first feature, which staging's
test split never holds), the prod stage (after its manual approval) deploys by canary: a good model
with no failed request; then a model that errors on field rows and one that is slow on them. Both
pass staging, trip an alarm of prod-config.json's during the bake, and are rolled back: the
CloudFormation update rolls back, the prod stage fails, and prod answers with the old model.

The clock runs 120 times faster than AWS here: a 60 s alarm period is 0.5 s, the canary's 600 s bake 5 s.
"""

from __future__ import annotations

import time

import pytest

from localcloud.tools.lifecycle import Lifecycle, LifecycleError, wait_until
from localcloud.tools.publish import publish
from tests.localcloud.guardrail_models import SteadyLoad, answered_by, field_row, held_out_rows, logistic, register
from tests.localcloud.metrics_helpers import TimeScale
from tests.localcloud.stack_waits import settled_stack

SCALE = 120.0
FIELD_EVERY = 3  # every third request of the load is a field row


@pytest.fixture(scope="module", autouse=True)
def clock():
    with TimeScale(SCALE):
        yield


@pytest.fixture(scope="module")
def life(cloud, cdk_out):
    publish(cdk_out, cloud.url, state=cloud.state.root)
    return Lifecycle(cloud.client)


@pytest.fixture(scope="module")
def project(life):
    return life.create_project("guard")


@pytest.fixture(scope="module")
def first(cloud, life, project):
    """The model of ModelBuild's first run (started by the project's creation), promoted to production
    (which creates the prod endpoint) once ModelDeploy's first run has stopped for want of it."""
    first_deploy = life.creation_run(project.modeldeploy_pipeline)
    life.wait_for_run_end(project.modeldeploy_pipeline, first_deploy["pipelineExecutionId"], 300)
    life.wait_for_execution(project.modelbuild_pipeline, project.created, timeout=300)
    package = life.wait_for_package(project.group, project.created, timeout=30)["ModelPackageArn"]
    promote(cloud, life, project, package)
    life.wait_for_execution(project.modeldeploy_pipeline, package_approved[package], timeout=300)
    return package


package_approved: dict[str, float] = {}


def promote(cloud, life, project, package: str) -> None:
    """Approve the package, wait for staging to pass, and answer the prod stage's manual approval."""
    alarms_settle(cloud, project)
    package_approved[package] = approved = time.time()
    life.approve_package(package)
    life.wait_for_execution(project.modeldeploy_pipeline, approved, timeout=300, until_stage="ApproveDeployment")
    life.answer_approval(project.modeldeploy_pipeline, "ApproveDeployment")


def alarms_settle(cloud, project) -> None:
    """A team promotes once prod's alarms are quiet: one left in ALARM would roll the next deployment back."""
    cloudwatch = cloud.client("cloudwatch")

    def quiet():
        alarms = cloudwatch.describe_alarms(AlarmNamePrefix=f"{project.prod_endpoint}-")["MetricAlarms"]
        return all(a["StateValue"] != "ALARM" for a in alarms)

    wait_until("prod's alarms to leave ALARM", quiet, timeout=60, interval=0.1)


@pytest.fixture(scope="module")
def split(cloud, first):
    return held_out_rows(cloud, first)


@pytest.fixture(scope="module")
def rows(split):
    """The load's rows: test split rows, every third one a field row."""
    features = split.drop(columns="target").to_numpy()
    return [field_row(r) if i % FIELD_EVERY == 0 else [float(v) for v in r] for i, r in enumerate(features)]


def columns(split) -> list[str]:
    return [c for c in split.columns if c != "target"]


def prod_stage(cloud, project) -> dict:
    stages = cloud.client("codepipeline").get_pipeline_state(name=project.modeldeploy_pipeline)["stageStates"]
    return next(s for s in stages if s["stageName"] == "DeployProd")


def prod_stack(cloud, project) -> dict:
    return settled_stack(cloud.client("cloudformation"), f"sagemaker-{project.name}-deploy-prod")


@pytest.fixture(scope="module")
def good(cloud, life, project, first, split, rows, tmp_path_factory):
    """A second good model (a different fit, so its answers differ from the first's), promoted under load."""
    model = logistic(split, c=0.05)
    package = register(cloud, project, first, model, tmp_path_factory.mktemp("good"), "good")
    with SteadyLoad(cloud.url, project.prod_endpoint, rows) as load:
        time.sleep(1.0)
        started = time.monotonic()
        promote(cloud, life, project, package)
        life.wait_for_execution(project.modeldeploy_pipeline, package_approved[package], timeout=300)
        finished = time.monotonic()
        time.sleep(1.0)
    return model, load, started, finished


def test_a_good_model_goes_to_prod_by_canary_with_no_failed_request(cloud, project, split, rows, good):
    model, load, started, finished = good
    answers = load.between(0)
    assert answers and not [a.error for a in answers if a.error], "0 failed requests while the canary ran"
    names = columns(split)
    before = [a for a in answers if a.at < started]
    during = [a for a in answers if started <= a.at < finished]
    after = [a for a in answers if a.at > finished + 0.2]
    assert before and not any(answered_by(model, rows, a, names) for a in before), "the old model served before"
    shares = [answered_by(model, rows, a, names) for a in during]
    assert any(shares) and not all(shares), "during the canary both the old and the new model answered"
    assert after and all(answered_by(model, rows, a, names) for a in after), "then only the new one"
    assert prod_stack(cloud, project)["StackStatus"] == "UPDATE_COMPLETE"
    described = cloud.client("sagemaker").describe_endpoint(EndpointName=project.prod_endpoint)
    routing = described["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "CANARY" and routing["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 50}


BAD_MODELS = {
    # a log transform in front: NaN for the field rows' negative value, which the classifier refuses (5XX)
    "errors-on-field-rows": ({"log_features": True}, 0.0, "invocation-5xx-errors"),
    # the seed's handlers taking 0.6 s over a row with a negative value: p95 ModelLatency over 300 ms
    "slow-on-field-rows": ({}, 0.6, "model-latency-p95"),
}


@pytest.mark.parametrize("bad", list(BAD_MODELS))
def test_a_bad_model_trips_an_alarm_in_the_bake_and_prod_keeps_the_old_model(
    cloud, life, project, first, split, rows, good, bad, tmp_path
):
    old_model = good[0]
    fit, slow_seconds, alarm = BAD_MODELS[bad]
    bad_model = logistic(split, c=20.0, **fit)
    package = register(cloud, project, first, bad_model, tmp_path, bad, slow_seconds)
    names = columns(split)
    prod_before = cloud.client("sagemaker").describe_endpoint(EndpointName=project.prod_endpoint)
    with SteadyLoad(cloud.url, project.prod_endpoint, rows) as load:
        promote(cloud, life, project, package)
        started = time.monotonic()
        with pytest.raises(LifecycleError, match="DeployProd"):
            life.wait_for_execution(project.modeldeploy_pipeline, package_approved[package], timeout=300)
        finished = time.monotonic()
    assert prod_stage(cloud, project)["latestExecution"]["status"] == "Failed"
    stack = prod_stack(cloud, project)
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE", stack.get("StackStatusReason")
    described = cloud.client("sagemaker").describe_endpoint(EndpointName=project.prod_endpoint)
    assert described["EndpointStatus"] == "InService"
    assert f"{project.prod_endpoint}-{alarm}" in described.get("FailureReason", ""), described.get("FailureReason")
    assert (
        described["ProductionVariants"][0]["CurrentInstanceCount"]
        == prod_before["ProductionVariants"][0]["CurrentInstanceCount"]
    )

    failed = [a for a in load.between(started, finished) if a.error]
    if slow_seconds:
        assert not failed, "a slow model still answers"
    else:
        assert failed, "the bad canary answered field rows with errors"
        assert all(a.row % FIELD_EVERY == 0 and "NaN" in a.error for a in failed), {a.error for a in failed}
    # prod answers with the old model, field rows quickly and without error
    with SteadyLoad(cloud.url, project.prod_endpoint, rows, rate=40.0) as after:
        time.sleep(1.5)
    answers = after.between(0)
    assert answers and not [a.error for a in answers if a.error]
    assert all(answered_by(old_model, rows, a, names) for a in answers), "prod answers with the old model"
    assert not any(answered_by(bad_model, rows, a, names) for a in answers)
    if slow_seconds:
        assert max(a.seconds for a in answers) < slow_seconds, "field rows are answered at the old model's pace"
