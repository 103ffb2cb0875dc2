"""The ModelDeploy seed's endpoint template uses only resource types the local cloud can create.

A limit of the local cloud, not of AWS, so it is checked here and not in the seed's own suite:
a type outside this list would fail the project's DeployStaging stage when it runs locally.
When the seed needs a new type, teach it to the owning service's cfn.py first.
"""

from __future__ import annotations

from pathlib import Path

import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "modeldeploy" / "endpoint-config-template.yml"
CREATED_LOCALLY = {
    "AWS::SageMaker::Model",
    "AWS::SageMaker::EndpointConfig",
    "AWS::SageMaker::Endpoint",
    "AWS::CloudWatch::Alarm",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
}


class _IntrinsicLoader(yaml.SafeLoader):
    """Reads !Ref, !If, ... as plain values: only the resource types matter here."""


_IntrinsicLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_endpoint_template_uses_only_resource_types_the_local_cloud_creates():
    resources = yaml.load(TEMPLATE.read_text(), Loader=_IntrinsicLoader)["Resources"]
    assert {resource["Type"] for resource in resources.values()} <= CREATED_LOCALLY
