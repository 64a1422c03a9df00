"""The house rules the lead reviews: no module over 400 lines, no public name defined twice
where it was confusing, no module named like a stdlib one."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "spectragram_bench"
MAX_LINES = 400


def sources() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts]


def test_no_module_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in sources() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def _top_level_names(name: str) -> list[str]:
    found = []
    for p in sources():
        for node in ast.parse(p.read_text()).body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == name:
                found.append(str(p.relative_to(PACKAGE)))
    return found


def test_former_name_collisions_are_gone():
    assert _top_level_names("Counts") == ["core/metrics.py"]
    assert _top_level_names("Interval") == ["core/bootstrap.py"]
    assert _top_level_names("fmt_usd") == ["reporting/leaderboard.py"]


def test_no_worker_module_shadows_the_stdlib():
    # reporting/html.py is imported only as spectragram_bench.reporting.html (absolute imports)
    shadowing = [str(p.relative_to(PACKAGE)) for p in sources() if p.stem in sys.stdlib_module_names]
    assert set(shadowing) <= {"reporting/html.py"}
