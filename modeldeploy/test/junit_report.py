"""Writes check results as a JUnit XML report, the format CodeBuild test reports read."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CheckResult:
    """One check: passed when neither failure nor skipped is set."""

    name: str
    seconds: float
    detail: str
    failure: str | None = None
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        return self.failure is None and self.skipped is None


def write_junit(path: Path | str, suite_name: str, results: list[CheckResult]) -> None:
    suite = ET.Element(
        "testsuite",
        name=suite_name,
        tests=str(len(results)),
        failures=str(sum(1 for result in results if result.failure is not None)),
        skipped=str(sum(1 for result in results if result.skipped is not None)),
        errors="0",
        time=f"{sum(result.seconds for result in results):.3f}",
    )
    for result in results:
        case = ET.SubElement(suite, "testcase", classname=suite_name, name=result.name, time=f"{result.seconds:.3f}")
        if result.failure is not None:
            failure = ET.SubElement(case, "failure", message=result.failure.splitlines()[0][:500])
            failure.text = result.failure
        elif result.skipped is not None:
            ET.SubElement(case, "skipped", message=result.skipped)
        ET.SubElement(case, "system-out").text = result.detail
    tree = ET.ElementTree(ET.Element("testsuites"))
    tree.getroot().append(suite)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
