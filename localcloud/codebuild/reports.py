"""Test reports: JUnit XML files named by a buildspec's ``reports`` section, summarised per report."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

from .buildspec import ReportSpec


def _cases(root: ElementTree.Element, source: str) -> list[dict[str, Any]]:
    cases = []
    for suite in [root] if root.tag == "testsuite" else root.iter("testsuite"):
        for case in suite.findall("testcase"):
            status, message = "SUCCEEDED", ""
            for tag, outcome in (("failure", "FAILED"), ("error", "ERROR"), ("skipped", "SKIPPED")):
                found = case.find(tag)
                if found is not None:
                    status = outcome
                    message = (found.get("message") or found.text or "").strip()
                    break
            cases.append(
                {
                    "testRawDataPath": source,
                    "prefix": case.get("classname") or suite.get("name") or "",
                    "name": case.get("name", ""),
                    "status": status,
                    "durationInNanoSeconds": int(float(case.get("time") or 0) * 1e9),
                    "message": message,
                }
            )
    return cases


def parse(spec: ReportSpec, src: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Test cases from every matched file, and the problems met (missing or unreadable files)."""
    base = src / spec.base_directory if spec.base_directory else src
    cases: list[dict[str, Any]] = []
    problems: list[str] = []
    paths = sorted({p for pattern in spec.files for p in base.glob(pattern) if p.is_file()})
    if not paths:
        problems.append(f"report {spec.name}: no file matched {spec.files}")
    for path in paths:
        try:
            cases += _cases(ElementTree.parse(path).getroot(), path.relative_to(base).as_posix())
        except ElementTree.ParseError as error:
            problems.append(f"report {spec.name}: {path.name} is not JUnit XML: {error}")
    return cases, problems


def summary(cases: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for case in cases:
        counts[case["status"]] = counts.get(case["status"], 0) + 1
    return {
        "total": len(cases),
        "statusCounts": counts,
        "durationInNanoSeconds": sum(c["durationInNanoSeconds"] for c in cases),
    }
