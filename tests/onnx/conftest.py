"""Prints the ONNX node conformance count at the end of every run that includes it."""

from __future__ import annotations

import os

import pytest

NODE_TESTS = "OnnxBackendNodeModelTest"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line with the cpu node tests passed, failed and excluded."""
    counts = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        counts[outcome] = sum(
            1
            for report in terminalreporter.stats.get(outcome, [])
            if NODE_TESTS in getattr(report, "nodeid", "") and report.nodeid.endswith("_cpu")
        )
    total = sum(counts.values())
    if total:
        backend = os.environ.get("HOLOGRAM_NODE_BACKEND", "cpu")
        terminalreporter.write_line(
            f"ONNX backend node tests ({backend} backend): {counts['passed']} passed of {total} "
            f"({counts['skipped']} excluded, {counts['failed'] + counts['error']} failed)",
            bold=True,
        )
