"""cfn-lint: every synthesized template is free of errors (and warnings)."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import lint

from tests.service_catalog.template_tools import of_type


def findings(template: dict) -> list[str]:
    return [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in lint(json.dumps(template))]


@pytest.mark.parametrize("which", ["product", "portfolio"])
def test_template_lints_clean(synthesized, which):
    template = {
        "product": synthesized.product,
        "portfolio": synthesized.portfolio,
    }[which]
    assert findings(template) == []


def test_cfn_lint_would_catch_a_broken_template(product):
    broken = json.loads(json.dumps(product))
    (bucket_id,) = of_type(broken, "AWS::S3::Bucket")
    broken["Resources"][bucket_id]["Properties"]["VersioningConfiguration"] = {"Status": "Sometimes"}
    assert any(line.startswith("E") for line in findings(broken))
