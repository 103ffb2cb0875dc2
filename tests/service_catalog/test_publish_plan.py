"""What `publish` would upload, read from the synthesized assets manifest (no AWS calls)."""

from __future__ import annotations

import pytest

from service_catalog.publish import PublishError, resolve_placeholders, upload_plan


def test_every_manifest_file_is_uploaded_to_the_chosen_bucket(synthesized):
    plan = upload_plan(
        synthesized.result.cdk_out,
        synthesized.assets_manifest,
        account="111122223333",
        region="eu-west-1",
        partition="aws",
    )
    names = {item.source.name for item in plan}
    assert synthesized.result.portfolio_template.name in names
    assert synthesized.result.product_template.name in names
    assert len([name for name in names if name.endswith(".zip")]) == 3
    assert {item.bucket for item in plan} == {"test-template-assets"}
    assert all(item.source.is_file() for item in plan)


def test_placeholders_are_filled_for_the_target_account():
    resolved = resolve_placeholders(
        "assets-${AWS::AccountId}-${AWS::Region}/${AWS::Partition}", account="1", region="r", partition="p"
    )
    assert resolved == "assets-1-r/p"


def test_a_missing_staged_file_is_a_clear_error(synthesized, tmp_path):
    with pytest.raises(PublishError, match="is missing: run the synthesis again"):
        upload_plan(tmp_path, synthesized.assets_manifest, account="1", region="r", partition="aws")
