"""What a report shows of a long text: its beginning and how much was left out.

A provider can answer with megabytes (a runaway decoder, an HTML page, a hostile server);
the database keeps every byte, but a report that embeds them all becomes hundreds of
megabytes. Texts are cut to DISPLAY_CHARS, words to DISPLAY_WORD_CHARS and an alignment to
DISPLAY_COLUMNS columns, each with a note saying the full text is in the database.
"""

from __future__ import annotations

from spectragram_bench.reporting.alignment import HIT, Column

DISPLAY_CHARS = 2_000
DISPLAY_WORD_CHARS = 100
DISPLAY_COLUMNS = 600


def clip(text: str | None, limit: int = DISPLAY_CHARS) -> str | None:
    """`text`, or its first `limit` characters with a note on how many more the database holds."""
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}\u2026 [{len(text) - limit:,} more characters; the full text is in the database]"


def _word(word: str | None) -> str | None:
    if word is None or len(word) <= DISPLAY_WORD_CHARS:
        return word
    return f"{word[:DISPLAY_WORD_CHARS]}\u2026[+{len(word) - DISPLAY_WORD_CHARS:,}]"


def clip_encoded(columns: list[Column]) -> list:
    """An alignment cut to DISPLAY_COLUMNS columns (and each word to DISPLAY_WORD_CHARS), encoded
    for the page in the same pass (a large report has millions of words): hits as plain strings,
    edits as [op, ref, hyp]."""
    w = DISPLAY_WORD_CHARS
    shown = [(ref if len(ref) <= w else _word(ref)) if op == HIT else [op, _word(ref), _word(hyp)]
             for op, ref, hyp in columns[:DISPLAY_COLUMNS]]
    if len(columns) > DISPLAY_COLUMNS:
        shown.append(_more(columns))
    return shown


def _more(columns: list[Column]) -> str:
    return f"\u2026 [{len(columns) - DISPLAY_COLUMNS:,} more words; the full text is in the database]"
