"""Praat TextGrid text files (the long "ooTextFile" format the Montreal Forced Aligner writes,
and the short one), read for their word tier.

Praat reads a text file as a sequence of free-standing numbers, double-quoted strings (a quote
inside one is doubled) and <flags>; everything else (`xmin =`, `item [1]:`, `intervals: size =`)
is a label it skips, and `!` starts a comment. Both text formats are therefore one token
sequence: "ooTextFile", "TextGrid", xmin, xmax, <exists>, the number of tiers, then per tier its
class, name, xmin, xmax and size, and per interval xmin, xmax, text (per point of a TextTier:
time, mark). MFA writes `class = "IntervalTier"`, `name = "words"` (`"<speaker> - words"` with
several speakers) and `"phones"`, with empty-text intervals for silence.

Encodings: UTF-8 (with or without BOM) and UTF-16 with BOM (what Praat writes for non-ASCII text).
A malformed file is an AlignmentError naming the file and line, never an exception of the parser.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

#: labels that mark silence, not speech, on a word tier or in a CTM (compared lower-cased)
SILENCE = frozenset({"", "sil", "sp", "<eps>", "<sil>", "!sil", "<s>", "</s>"})

_TOKEN = re.compile(r'"(?:[^"]|"")*"|<[A-Za-z]+>|![^\n]*|[^\s"<!]+|["<]')
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


class AlignmentError(ValueError):
    """One line naming the file (and line) of a malformed alignment and what is wrong."""


@dataclass(frozen=True)
class Token:
    kind: str  # "str", "num", "flag", "value" (a long-format value that is none of them)
    value: object
    line: int


def decode(raw: bytes, path: Path) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise AlignmentError(f"{path}: a UTF-16 byte-order mark, then bytes that are not UTF-16") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise AlignmentError(f"{path}:{line}: not UTF-8 or UTF-16 text (byte 0x{raw[exc.start]:02x})") from None


def tokens(text: str, path: Path) -> list[Token]:
    """Praat's view of a text file: numbers, strings and flags with their line numbers."""
    out: list[Token] = []
    line = 1
    pos = 0
    after_equals = False  # a long-format value: `xmin = abc` is a bad number, not a label to skip
    for m in _TOKEN.finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        tok = m.group()
        value_expected, after_equals = after_equals, tok == "="
        if tok.startswith('"') and len(tok) > 1 and tok.endswith('"'):
            out.append(Token("str", tok[1:-1].replace('""', '"'), line))
        elif tok == '"':
            raise AlignmentError(f"{path}:{line}: a string that is never closed")
        elif tok.startswith("<") and tok.endswith(">"):
            out.append(Token("flag", tok[1:-1], line))
        elif _NUMBER.fullmatch(tok):
            out.append(Token("num", float(tok), line))
        elif value_expected and not tok.startswith("!"):
            out.append(Token("value", tok, line))
    return out


class _Reader:
    def __init__(self, toks: list[Token], path: Path) -> None:
        self.toks = toks
        self.path = path
        self.i = 0

    def take(self, kind: str, what: str) -> object:
        if self.i >= len(self.toks):
            last = self.toks[-1].line if self.toks else 1
            raise AlignmentError(f"{self.path}:{last}: the file ends before {what}")
        tok = self.toks[self.i]
        if tok.kind != kind:
            found = f"<{tok.value}>" if tok.kind == "flag" else repr(tok.value)
            if tok.kind in ("str", "num"):
                found = f"the {'string' if tok.kind == 'str' else 'number'} {found}"
            raise AlignmentError(f"{self.path}:{tok.line}: expected {what}, found {found}")
        self.i += 1
        return tok.value

    def line(self) -> int:
        return self.toks[min(self.i, len(self.toks) - 1)].line if self.toks else 1

    def count(self, what: str) -> int:
        line = self.line()
        n = self.take("num", what)
        if n != int(n) or n < 0:
            raise AlignmentError(f"{self.path}:{line}: {what} is {n}, not a count")
        return int(n)


@dataclass(frozen=True)
class Tier:
    cls: str
    name: str
    #: (start, end, text, line) per interval; (time, time, mark, line) per point
    entries: list[tuple[float, float, str, int]]


def read_tiers(path: Path) -> list[Tier]:
    """Every tier of the TextGrid at `path`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AlignmentError(f"{path}: cannot read: {exc.strerror or exc}") from None
    toks = tokens(decode(raw, path), path)
    r = _Reader(toks, path)
    file_type = r.take("str", 'the file type "ooTextFile"')
    if file_type not in ("ooTextFile", "ooTextFile short"):
        raise AlignmentError(f"{path}:1: file type {file_type!r}, not a Praat text file (\"ooTextFile\")")
    object_class = r.take("str", 'the object class "TextGrid"')
    if object_class != "TextGrid":
        raise AlignmentError(f"{path}:{toks[1].line}: object class {object_class!r}, not \"TextGrid\"")
    r.take("num", "the TextGrid's xmin")
    r.take("num", "the TextGrid's xmax")
    if r.take("flag", "<exists> (tiers?)") != "exists":
        return []
    tiers = []
    for t in range(1, r.count("the number of tiers") + 1):
        cls = str(r.take("str", f'the class of tier {t} ("IntervalTier" or "TextTier")'))
        name = str(r.take("str", f"the name of tier {t}"))
        r.take("num", f"the xmin of tier {name!r}")
        r.take("num", f"the xmax of tier {name!r}")
        if cls not in ("IntervalTier", "TextTier"):
            raise AlignmentError(f"{path}:{toks[r.i - 4].line}: tier {name!r} has class {cls!r}, not IntervalTier or TextTier")
        n = r.count(f"the size of tier {name!r}")
        entries = []
        for k in range(1, n + 1):
            line = r.line()
            if cls == "IntervalTier":
                start = float(r.take("num", f"the xmin of interval {k} of tier {name!r}"))
                end = float(r.take("num", f"the xmax of interval {k} of tier {name!r}"))
                text = str(r.take("str", f"the text of interval {k} of tier {name!r}"))
            else:
                start = end = float(r.take("num", f"the time of point {k} of tier {name!r}"))
                text = str(r.take("str", f"the mark of point {k} of tier {name!r}"))
            entries.append((start, end, text, line))
        tiers.append(Tier(cls, name, entries))
    return tiers


def is_word_tier(tier: Tier) -> bool:
    name = tier.name.strip().lower()
    return tier.cls == "IntervalTier" and (name == "words" or name.endswith(" - words"))


def textgrid_words(path: Path) -> list[dict[str, float | str]]:
    """The words of the file's word tier(s) (`words`, or MFA's `<speaker> - words`), silence left
    out, as [{"word", "start", "end"}] in seconds sorted by start. An AlignmentError when the file
    is malformed, has no word tier, an interval ends before it starts, or no word is spoken."""
    tiers = read_tiers(path)
    chosen = [t for t in tiers if is_word_tier(t)]
    if not chosen:
        names = ", ".join(repr(t.name) for t in tiers) or "none"
        raise AlignmentError(f"{path}: no IntervalTier named \"words\" (tiers: {names})")
    words = []
    for tier in chosen:
        for start, end, text, line in tier.entries:
            if not (math.isfinite(start) and math.isfinite(end) and 0 <= start <= end):
                raise AlignmentError(f"{path}:{line}: interval {start}..{end} of tier {tier.name!r} is not a time span")
            word = text.strip()
            if word.lower() not in SILENCE:
                words.append({"word": word, "start": start, "end": end})
    if not words:
        raise AlignmentError(f"{path}: the words tier has no words, only silence")
    return sorted(words, key=lambda w: (w["start"], w["end"]))
