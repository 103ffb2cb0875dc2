"""The one seam to moto: the version it was written for, and a table that names every patch applied."""

from __future__ import annotations

import re

import pytest

from localcloud import MOTO_VERSION, PACKAGE_DIR
from localcloud.core import moto_seam


def test_another_moto_version_stops_the_local_cloud_naming_both_and_the_fix():
    with pytest.raises(moto_seam.MotoVersionError) as stopped:
        moto_seam.check_version("5.3.0")
    message = str(stopped.value)
    assert f"moto {MOTO_VERSION}" in message and "moto 5.3.0" in message and "make install" in message
    moto_seam.check_version()  # the installed one is the pinned one


def test_the_readme_table_names_exactly_the_patches_a_running_cloud_applies(cloud):
    readme = (PACKAGE_DIR / "README.md").read_text()
    table = readme.split("\n## The seam to moto\n", 1)[1].split("\n## ", 1)[0]  # that section's table only
    documented = set(re.findall(r"^\| `([\w.]+)` \|", table, re.M))
    applied = {patch.target.removeprefix("moto.") for patch in moto_seam.applied()}
    assert documented == applied, (
        f"patched but not in localcloud/README.md: {sorted(applied - documented)}; "
        f"in the table but not patched: {sorted(documented - applied)}"
    )
    assert all(patch.why and patch.until for patch in moto_seam.applied())


def test_a_patch_is_applied_once_per_process(cloud):
    from moto.events.models import Rule

    wrapped = Rule.send_to_targets
    count = len(moto_seam.applied())
    import localcloud.services.events.delivery as delivery

    delivery.install(cloud)
    assert Rule.send_to_targets is wrapped and len(moto_seam.applied()) == count


def test_patched_moto_methods_reach_the_running_cloud(cloud):
    assert moto_seam.bound() is cloud
