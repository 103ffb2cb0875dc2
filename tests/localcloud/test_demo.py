"""The demo names the stage that failed, and why."""

from __future__ import annotations

import pytest

from localcloud.tools.demo import Timeline
from localcloud.tools.lifecycle import LifecycleError


def test_a_failing_stage_is_named_with_its_reason(capsys):
    timeline = Timeline()
    with timeline.stage("creating project demo"):
        pass
    with pytest.raises(LifecycleError, match="pushing a commit to ModelBuild: git push failed: rejected"):
        with timeline.stage("pushing a commit to ModelBuild"):
            raise RuntimeError("git push failed: rejected")
    assert [title for title, _ in timeline.times] == ["creating project demo"], "a failed stage has no time"
    assert "==> pushing a commit to ModelBuild ..." in capsys.readouterr().out


def test_a_lifecycle_error_keeps_its_own_message():
    with pytest.raises(LifecycleError, match="^sagemaker-x-modeldeploy failed: stage TestStaging"):
        with Timeline().stage("ModelDeploy"):
            raise LifecycleError("sagemaker-x-modeldeploy failed: stage TestStaging")
