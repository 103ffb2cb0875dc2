"""`python -m service_catalog.synth` refuses bad input before touching any output."""

from __future__ import annotations

import pytest

from service_catalog.synth import main


@pytest.mark.parametrize("bucket", ["Upper_Case", "ab", "-leading-hyphen", "two..dots"])
def test_bad_asset_bucket_is_named_and_nothing_is_wiped(tmp_path, capsys, bucket):
    cdk_out = tmp_path / "cdk.out"
    cdk_out.mkdir()
    (cdk_out / "keep.json").write_text("{}")
    code = main([f"--asset-bucket={bucket}", "--cdk-out", str(cdk_out), "--dist", str(tmp_path / "dist")])
    assert code == 1
    error = capsys.readouterr().err
    assert f"asset bucket name {bucket!r} is not a valid S3 bucket name" in error
    assert (cdk_out / "keep.json").exists()
    assert not (tmp_path / "dist").exists()
