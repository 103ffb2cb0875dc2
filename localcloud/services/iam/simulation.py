"""IAM additions: ``SimulatePrincipalPolicy``, which moto lacks and the SageMaker SDK calls.

The local cloud, like moto by default, does not enforce IAM, so every simulated action is allowed;
answering that truthfully keeps SDK checks quiet instead of logging a server error per call.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

from localcloud.core.gateway import Call


def simulate_principal_policy(call: Call) -> Response:
    actions = [v[0] for k, v in sorted(call.query.items()) if k.startswith("ActionNames.member.")]
    resources = [v[0] for k, v in sorted(call.query.items()) if k.startswith("ResourceArns.member.")] or ["*"]
    results = "".join(
        f"<member><EvalActionName>{escape(action)}</EvalActionName><EvalResourceName>{escape(resource)}"
        f"</EvalResourceName><EvalDecision>allowed</EvalDecision><MatchedStatements/><MissingContextValues/>"
        f"</member>"
        for action in actions
        for resource in resources
    )
    body = (
        '<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        f"<SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>{results}"
        "</EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>local</RequestId>"
        "</ResponseMetadata></SimulatePrincipalPolicyResponse>"
    )
    return Response(body, mimetype="text/xml")


def install(cloud) -> None:
    cloud.gateway.query("iam", "SimulatePrincipalPolicy", changes_state=False)(simulate_principal_policy)
