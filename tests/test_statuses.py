"""Statuses and error kinds are enums whose values are the strings the database has always held,
and no module compares or assigns a status as a bare string literal."""

from __future__ import annotations

import ast
from pathlib import Path

from spectragram_bench.core.statuses import ErrorKind, JobRunStatus, PredictionStatus, WorkItemState
from spectragram_bench.providers.base import ErrorKind as ProviderErrorKind

PACKAGE = Path(__file__).resolve().parents[1] / "spectragram_bench"
#: attributes/keywords that hold one of the enums above
STATUS_NAMES = {"status", "state", "error_kind"}


def sources() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts]


def test_values_are_the_stored_strings():
    assert [s.value for s in JobRunStatus] == ["queued", "running", "completed", "partial", "failed", "interrupted"]
    assert [s.value for s in WorkItemState] == ["pending", "leased", "done"]
    assert [s.value for s in PredictionStatus] == ["ok", "failed"]
    assert {k.value for k in ErrorKind} == {"retryable", "rate_limited", "utterance", "fatal", "input", "internal"}
    assert JobRunStatus.RUNNING == "running" and f"{PredictionStatus.OK}" == "ok"
    assert ProviderErrorKind is ErrorKind


def _literal_uses(tree: ast.AST) -> list[int]:
    """Lines comparing x.status/x.state/x.error_kind with a string, or passing status="..."."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            named = any(isinstance(s, ast.Attribute) and s.attr in STATUS_NAMES for s in sides)
            literal = any(isinstance(s, ast.Constant) and isinstance(s.value, str) for s in sides)
            if named and literal:
                lines.append(node.lineno)
        elif isinstance(node, ast.keyword) and node.arg in STATUS_NAMES:
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                lines.append(node.value.lineno)
        elif isinstance(node, ast.Assign):
            targets = [t for t in node.targets if isinstance(t, ast.Attribute) and t.attr in STATUS_NAMES]
            if targets and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                lines.append(node.lineno)
    return lines


def test_no_status_literals_in_the_package():
    offenders = [f"{p.relative_to(PACKAGE)}:{line}" for p in sources() for line in _literal_uses(ast.parse(p.read_text()))]
    assert offenders == []


def test_the_scan_finds_a_literal():
    assert _literal_uses(ast.parse('if run.status == "running":\n    run.state = "done"\nf(error_kind="input")')) == [1, 2, 3]
