"""The leaderboard in a terminal: as many of the column list's columns as the width holds.

Columns are kept in priority order (reporting/columns.py) while they fit; numbers and names are
never cut. When even the essential ones (system, dataset, WER) do not fit, or more than
MAX_HIDDEN columns would be left out, each row is printed as a stacked block instead: its names
on one line, then every column as `header value` pairs packed into lines of the terminal's width.
`wide` prints every column as a table whatever the width.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from sqlalchemy import select
from sqlalchemy.orm import Session

from spectragram_bench.core.models import Evaluation, JobRun
from spectragram_bench.reporting.columns import Column, leaderboard_columns
from spectragram_bench.reporting.leaderboard import LeaderboardRow, harness_note, leaderboard_rows, reuse_note
from spectragram_bench.reporting.summary import wide_console

ESSENTIAL = 0  # priority of the columns without which a table is not worth printing
MAX_HIDDEN = 3  # more columns than this left out of the table: stack the rows instead
CELL_PADDING = 3  # rich's default box: one space each side and a rule


def _width(col: Column, rows: list[LeaderboardRow]) -> int:
    return max([len(col.header)] + [len(col.text(r)) for r in rows]) + CELL_PADDING


def fit_columns(cols: list[Column], rows: list[LeaderboardRow], width: int, wide: bool) -> tuple[list[Column], list[Column]]:
    """(shown, hidden): the columns that fit in `width`, most important first, in display order."""
    if wide:
        return cols, []
    candidates = [c for c in cols if not c.wide_only]
    used, keep = 1, set()
    for c in sorted(candidates, key=lambda c: c.priority):
        w = _width(c, rows)
        if used + w <= width:
            keep.add(c.key)
            used += w
        elif c.priority == ESSENTIAL:
            return [], cols  # not even the essentials: stacked layout
    shown = [c for c in cols if c.key in keep]
    if sum(1 for c in candidates if c.key not in keep) > MAX_HIDDEN:
        return [], cols
    return shown, [c for c in cols if c.key not in keep]


def table_of(cols: list[Column], rows: list[LeaderboardRow], title: str) -> Table:
    table = Table(title=title)
    for c in cols:
        table.add_column(c.header, justify="right" if c.numeric else "left", no_wrap=True)
    for r in rows:
        table.add_row(*(c.text(r) for c in cols))
    return table


def stacked(cols: list[Column], rows: list[LeaderboardRow], title: str, width: int = 80) -> Group:
    """One block per row: the row's names, then `header value` pairs packed into lines of `width`."""
    names = [c for c in cols if not c.numeric and not c.wide_only]
    parts: list = [Text(title, style="bold")]
    for r in rows:
        parts.append(Text(" \u00b7 ".join(c.text(r) for c in names), style="bold"))
        line = ""
        for c in cols:
            if not c.numeric or c.text(r) == "-":
                continue
            pair = f"{c.header} {c.text(r)}"
            if line and len(line) + 3 + len(pair) > width:
                parts.append(Text(line))
                line = ""
            line = f"{line}   {pair}" if line else f"  {pair}"
        if line:
            parts.append(Text(line))
    return Group(*parts)


def evaluation_labels(session: Session, benchmark_id: int) -> dict[str, str]:
    """Every eval version of the benchmark's job runs with its label, oldest first."""
    q = (
        select(Evaluation.eval_version, Evaluation.label)
        .join(JobRun, JobRun.job_run_id == Evaluation.job_run_id)
        .where(JobRun.benchmark_id == benchmark_id)
        .order_by(Evaluation.evaluation_id)
    )
    return {version: label for version, label in session.execute(q)}


def print_leaderboard(
    session: Session, benchmark_id: int, console: Console | None = None, *, wide: bool = False,
    eval_version: str | None = None,
) -> list[LeaderboardRow]:
    console = console or wide_console()
    rows = leaderboard_rows(session, benchmark_id, eval_version)
    labels = evaluation_labels(session, benchmark_id)
    versions = sorted({r.summary.eval_version for r in rows})
    shown_versions = ", ".join(f"{v}: {labels[v]}" if v in labels else v for v in versions) or "-"
    title = f"benchmark {benchmark_id} leaderboard  (eval {', '.join(versions) or '-'})"
    cols = leaderboard_columns(rows)
    shown, hidden = fit_columns(cols, rows, console.width, wide)
    if shown:
        console.print(table_of(shown, rows, title))
    else:
        console.print(stacked(cols, rows, title, console.width))
    if shown and hidden:
        console.print(f"not shown at {console.width} columns: {', '.join(c.header for c in hidden)} (--wide shows all)",
                      highlight=False, soft_wrap=True)
    for note in (harness_note(rows), reuse_note(rows)):
        if note:
            console.print(note, markup=False, soft_wrap=True)
    from spectragram_bench.reporting.streaming_report import (
        streaming_table,  # it imports the leaderboard module
    )

    live = streaming_table(rows)
    if live is not None:
        console.print(live)
    console.print(f"eval {shown_versions}", highlight=False, soft_wrap=True)
    others = [v for v in labels if v not in versions]
    for v in others:
        console.print(f"also evaluated: {v} ({labels[v]}); --eval-version {v} shows it", highlight=False, soft_wrap=True)
    return rows
