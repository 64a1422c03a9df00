"""Reading transcript and manifest files line by line, keeping going past a bad line.

A line that is not valid UTF-8 must not sink a whole corpus: it is decoded with replacement
characters (enough to recover an id or a path) and carries an error that the loader records
on that one utterance.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from spectragram_bench.core.errors import DatasetError


def read_lines(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """(1-based line number, text without line ending, error or None) for every line of `path`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for lineno, line in enumerate(raw.split(b"\n"), 1):
        line = line.removesuffix(b"\r")
        try:
            yield lineno, line.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            yield lineno, line.decode("utf-8", errors="replace"), (
                f"{path}:{lineno}: not valid UTF-8 (byte 0x{line[exc.start]:02x} at column {exc.start + 1})"
            )


def read_tsv(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str], str | None]]:
    """(line number, fields by header name, problem or None) for each data line of a
    tab-separated file with a header row. Short lines are padded with "" (the problem says how
    many fields it had); a required column missing from the header is fatal."""
    header: list[str] | None = None
    for lineno, line, error in read_lines(path):
        if header is None:
            header = line.split("\t")
            absent = [c for c in required if c not in header]
            if absent:
                raise DatasetError(f"{path}: missing column(s) {absent}; header has {header}")
            continue
        if not line.strip():
            continue
        fields = line.split("\t")
        padded = fields[: len(header)] + [""] * (len(header) - len(fields))
        problem = error or (
            f"{path}:{lineno}: {len(fields)} fields, the header has {len(header)}" if len(fields) != len(header) else None
        )
        yield lineno, dict(zip(header, padded, strict=True)), problem
