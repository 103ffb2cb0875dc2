"""Test reports: JUnit XML files named by a buildspec's ``reports`` section, summarised per report."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

from localcloud.core.paths import PathEscape, contained, is_within
from localcloud.services.codebuild.buildspec import ReportSpec


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
    cases: list[dict[str, Any]] = []
    problems: list[str] = []
    try:
        base = contained(src, spec.base_directory, what="base-directory") if spec.base_directory else src
        matched = {p for pattern in spec.files for p in base.glob(pattern) if p.is_file()}
    except (PathEscape, ValueError, NotImplementedError) as error:  # glob refuses absolute patterns
        return [], [f"report {spec.name}: {error}"]
    paths = sorted(p for p in matched if is_within(p, src.parent))  # never a host file through '..' or a link
    for outside in sorted(matched - set(paths)):
        problems.append(f"report {spec.name}: {outside.relative_to(base)} is outside the build's folder, skipped")
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
