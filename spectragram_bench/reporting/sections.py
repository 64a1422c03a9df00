"""Report sections beyond the built-in ones: one function and one decorator line each.

A section is a function `(ReportContext) -> str` returning an HTML fragment, registered with
`@register_section(id, title, after=...)`. The report gives it a `<section id="s-<id>">` with
an `<h2>` title, a link in the page's navigation (so `report.html#s-<id>` is a shareable link
that lands on it), and places it after the built-in section `after` names (BUILT_IN). The
fragment is inlined as it is: escape every text with `html_leaderboard.e`; it may not carry a
script (the page's Content-Security-Policy runs only the report's own) and is styled by the
report's CSS (`table.lb`, `p.note`, `figure.plot`, `reporting/plots.py` charts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spectragram_bench.core.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from spectragram_bench.reporting.leaderboard import LeaderboardRow
    from spectragram_bench.reporting.slim_predictions import SlimPredictions

#: the built-in sections in page order (their element ids are `s-<id>`)
BUILT_IN = ("leaderboard", "plots", "breakdowns", "errors", "utterances", "repro")


@dataclass(frozen=True)
class ReportContext:
    """What every section is built from: the rows the leaderboard shows, each job run (`systems`:
    `.id`, `.name`, `.job_run`, `.provider`, `.model`, `.series` for its chart colour) and every
    scored prediction as a slim copy (`.prediction` id, job run and status, `.ok`, `.words` counts,
    `.columns` edits, `.latency`, dataset and variant; no texts and no `.utterance`: read those
    through `session`). `preds` also gives its numbers as columns (SlimPredictions.job_runs(),
    .ok(), .latency(name), .edits()): a pass over 100k rebuilt predictions costs a second."""

    session: Session
    benchmark_id: int
    eval_version: str | None
    systems: list[Any]
    rows: list[LeaderboardRow]
    preds: SlimPredictions  # a Sequence[ScoredPrediction]: read them, do not keep them


@dataclass(frozen=True)
class ReportSection:
    id: str
    title: str
    render: Callable[[ReportContext], str]
    after: str = "errors"


SECTIONS: dict[str, ReportSection] = {}


def register_section(section_id: str, title: str, *, after: str = "errors"):
    """Decorator: `fn(ctx) -> html` becomes the report section `s-<section_id>`, after `after`."""
    if section_id in BUILT_IN:
        raise ConfigError(f"report section {section_id!r} is a built-in section's id; choose another")
    if after not in BUILT_IN and after not in SECTIONS:
        raise ConfigError(f"report section {section_id!r}: after={after!r} names no section; one of {', '.join(BUILT_IN)}")

    def wrap(fn: Callable[[ReportContext], str]) -> Callable[[ReportContext], str]:
        SECTIONS[section_id] = ReportSection(section_id, title, fn, after)
        return fn

    return wrap


def arrange(built_in: list[tuple[str, str, str]], ctx: ReportContext) -> list[tuple[str, str, str]]:
    """(id, title, html) of every section in page order: the built-ins with each registered
    section rendered and placed after the one it names (registration order among equals)."""
    out = list(built_in)
    for section in SECTIONS.values():
        at = next(i for i, (sid, _, _) in enumerate(out) if sid == section.after)
        while at + 1 < len(out) and out[at + 1][0] in SECTIONS and SECTIONS[out[at + 1][0]].after == section.after:
            at += 1  # after the sections registered earlier at the same place
        out.insert(at + 1, (section.id, section.title, section.render(ctx)))
    return out
