"""A state folder this local cloud cannot read stops it with a message saying what to do, not a traceback."""

from __future__ import annotations

import json

import pytest

from localcloud import MOTO_VERSION
from localcloud.core.state import STATE_FORMAT, StateFormatError, StateStore


def test_a_new_folder_records_its_format_and_moto_version(tmp_path):
    store = StateStore(tmp_path)
    store.restore_backends()
    assert json.loads((tmp_path / "format.json").read_text()) == {"format": STATE_FORMAT, "moto": MOTO_VERSION}


def test_a_folder_from_before_the_format_was_recorded_is_refused_naming_the_fix(tmp_path):
    (tmp_path / "moto").mkdir()
    (tmp_path / "moto" / "backends.pickle").write_bytes(b"not a pickle this code should ever read")
    with pytest.raises(StateFormatError, match="older local cloud.*make clean"):
        StateStore(tmp_path).restore_backends()


def test_another_moto_version_is_refused_naming_both(tmp_path):
    (tmp_path / "format.json").write_text(json.dumps({"format": STATE_FORMAT, "moto": "5.0.0"}))
    with pytest.raises(StateFormatError, match=f"moto '5.0.0' \\(this local cloud: '{MOTO_VERSION}'\\)"):
        StateStore(tmp_path).restore_backends()


def test_the_server_exits_with_the_message(tmp_path, capsys):
    from localcloud.core import server

    (tmp_path / "format.json").write_text(json.dumps({"format": 1, "moto": MOTO_VERSION}))
    with pytest.raises(SystemExit, match="local cloud not started: .*format 1"):
        server.main(["--state-dir", str(tmp_path), "--port", "0"])
