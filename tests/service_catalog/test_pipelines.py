"""The two CodePipelines follow the contract: stages, order, artifacts, deploy settings."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from tests.service_catalog.conftest import PROJECT
from tests.service_catalog.template_tools import of_type, one_of_type, render

PREFIX = "sagemaker-churn-model-p-abc123def456"


def pipeline(product: dict, suffix: str, **parameters: str) -> dict:
    rendered = render(product, {**PROJECT, **parameters})
    _, resource = one_of_type(rendered, "AWS::CodePipeline::Pipeline", Name=f"{PREFIX}-{suffix}")
    return resource["Properties"]


def actions(stage: dict) -> list[dict]:
    return stage["Actions"]


def test_both_pipelines_are_v2(product):
    template = Template.from_json(product)
    template.resource_count_is("AWS::CodePipeline::Pipeline", 2)
    template.all_resources_properties("AWS::CodePipeline::Pipeline", {"PipelineType": "V2"})


def test_modelbuild_is_source_then_build(product):
    stages = pipeline(product, "modelbuild")["Stages"]
    assert [stage["Name"] for stage in stages] == ["Source", "Build"]
    (build,) = actions(stages[1])
    assert build["ActionTypeId"]["Provider"] == "CodeBuild"
    project = render(product, PROJECT)["Resources"][build["Configuration"]["ProjectName"]["Ref"]]
    assert project["Properties"]["Name"] == f"{PREFIX}-modelbuild"


def test_modeldeploy_stages_in_contract_order(product):
    stages = pipeline(product, "modeldeploy")["Stages"]
    assert [stage["Name"] for stage in stages] == [
        "Source",
        "Build",
        "DeployStaging",
        "TestStaging",
        "ApproveDeployment",
        "DeployProd",
    ]
    providers = [[action["ActionTypeId"]["Provider"] for action in actions(stage)] for stage in stages]
    assert providers == [
        ["CodeCommit"],
        ["CodeBuild"],
        ["CloudFormation"],
        ["CodeBuild"],
        ["Manual"],
        ["CloudFormation"],
    ]


def test_manual_approval_stands_between_staging_tests_and_prod(product):
    names = [stage["Name"] for stage in pipeline(product, "modeldeploy")["Stages"]]
    assert names.index("TestStaging") < names.index("ApproveDeployment") < names.index("DeployProd")
    assert names.index("DeployStaging") < names.index("TestStaging")


def test_deploy_actions_use_the_exported_files_and_stack_names(product):
    stages = {stage["Name"]: stage for stage in pipeline(product, "modeldeploy")["Stages"]}
    expected = {
        "DeployStaging": (
            "sagemaker-churn-model-deploy-staging",
            "BuildArtifact::staging-config-export.json",
        ),
        "DeployProd": ("sagemaker-churn-model-deploy-prod", "BuildArtifact::prod-config-export.json"),
    }
    for stage_name, (stack, configuration) in expected.items():
        (action,) = actions(stages[stage_name])
        config = action["Configuration"]
        assert config["ActionMode"] == "CREATE_UPDATE"
        assert config["StackName"] == stack
        assert config["TemplatePath"] == "BuildArtifact::template-export.yml"
        assert config["TemplateConfiguration"] == configuration
        assert "RoleArn" in config
        assert action["InputArtifacts"] == [{"Name": "BuildArtifact"}]


def test_build_output_feeds_deploys_and_the_staging_test(product):
    stages = {stage["Name"]: stage for stage in pipeline(product, "modeldeploy")["Stages"]}
    (build,) = actions(stages["Build"])
    assert build["InputArtifacts"] == [{"Name": "SourceArtifact"}]
    assert build["OutputArtifacts"] == [{"Name": "BuildArtifact"}]
    (test,) = actions(stages["TestStaging"])
    assert test["InputArtifacts"] == [{"Name": "BuildArtifact"}]


def test_codecommit_sources_are_not_polled(product):
    for suffix, repository in (("modelbuild", "ModelBuild"), ("modeldeploy", "ModelDeploy")):
        (source,) = actions(pipeline(product, suffix)["Stages"][0])
        assert source["ActionTypeId"] == {
            "Category": "Source",
            "Owner": "AWS",
            "Provider": "CodeCommit",
            "Version": "1",
        }
        assert source["Configuration"]["PollForSourceChanges"] == "false"
        assert source["Configuration"]["BranchName"] == "main"
        assert source["Configuration"]["RepositoryName"]["Fn::GetAtt"][0].startswith(f"Repositories{repository}")


def test_artifacts_are_kms_encrypted_in_the_project_bucket(product):
    template = Template.from_json(product)
    template.all_resources_properties(
        "AWS::CodePipeline::Pipeline",
        {
            "ArtifactStore": {
                "Type": "S3",
                "Location": {"Ref": Match.string_like_regexp("^ArtifactBucket")},
                "EncryptionKey": {
                    "Type": "KMS",
                    "Id": {"Fn::GetAtt": [Match.string_like_regexp("^Encryption"), "Arn"]},
                },
            }
        },
    )


def test_cloudformation_deploys_with_a_role_scoped_to_the_two_endpoint_stacks(product):
    rendered = render(product, PROJECT)
    deploy_role_id = pipeline(product, "modeldeploy")["Stages"][2]["Actions"][0]["Configuration"]["RoleArn"][
        "Fn::GetAtt"
    ][0]
    role = rendered["Resources"][deploy_role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    endpoint_statements = [
        s for s in role["Policies"][0]["PolicyDocument"]["Statement"] if "sagemaker:CreateEndpoint" in s["Action"]
    ]
    assert [sorted(s["Resource"]) for s in endpoint_statements] == [
        [
            "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-model-prod",
            "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-model-staging",
        ]
    ]


def test_no_project_role_has_a_wildcard_action(product, synthesized):
    for template in (product, synthesized.portfolio):
        for resource in list(of_type(template, "AWS::IAM::Role").values()) + list(
            of_type(template, "AWS::IAM::Policy").values()
        ):
            documents = [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]
            if "PolicyDocument" in resource["Properties"]:
                documents.append(resource["Properties"]["PolicyDocument"])
            for document in documents:
                for statement in document["Statement"]:
                    listed = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                    assert not [a for a in listed if "*" in a], statement
