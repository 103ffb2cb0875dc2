"""The sandbox command line: what a job sees."""

from __future__ import annotations

import sys

from localcloud import sandbox


def test_a_python_under_tmp_is_mounted_back_after_the_private_tmp(tmp_path, monkeypatch):
    venv = tmp_path / "checkout" / ".venv"
    (venv / "bin").mkdir(parents=True)
    monkeypatch.setattr(sys, "prefix", str(venv))
    monkeypatch.setattr(sys, "executable", str(venv / "bin" / "python"))
    args = sandbox.command(tmp_path / "ml", ["python3", "-V"], {})
    tmpfs = args.index("/tmp", args.index("--tmpfs"))
    mounted = [args[i + 1] for i, arg in enumerate(args) if arg == "--ro-bind"]
    assert str(venv.resolve()) in mounted
    assert args.index(str(venv.resolve())) > tmpfs, "the mount must come after /tmp is replaced"
    path = args[args.index("PATH", args.index("--setenv")) + 1]
    assert path.startswith(str(venv / "bin")), "the project's Python comes first on PATH"
