"""The faster import of moto's CloudFormation models yields the same regions and leaves boto3 as it was."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROGRAM = """
import json, sys, boto3
real = boto3.Session
if sys.argv[1] == "preload":
    from localcloud.core.moto_seam.preload import import_cloudformation_models
    import_cloudformation_models()
import moto.cloudformation.models
from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend
print(json.dumps({
    "regions": [r.name for r in RegionsAndZonesBackend.regions],
    "session_restored": boto3.Session is real,
    "fresh_sessions": boto3.Session() is not boto3.Session(),
}))
"""


def run(mode: str) -> dict:
    result = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(result.stdout)


def test_preloading_gives_the_same_regions_and_leaves_boto3_sessions_alone():
    preloaded, plain = run("preload"), run("plain")
    assert preloaded["regions"] == plain["regions"]
    assert {"us-east-1", "us-gov-west-1", "cn-north-1"} <= set(preloaded["regions"])
    assert preloaded["session_restored"] and preloaded["fresh_sessions"]
