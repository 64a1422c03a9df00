"""Transcripts made elsewhere: sclite trn, Kaldi text and JSON-lines files, read into id -> text.

- trn (`.trn`): `text (utterance-id)` a line, sclite's format; the speaker is the id's part
  before its first `-` or `_` (sclite's convention), used for the speaker-level statistics.
- Kaldi text (anything else): `utterance-id text` a line.
- JSON lines (`.jsonl`, `.json`): one object a line with an id (`id`, `utt_id`, `key`, else the
  stem of `audio_filepath`) and a text. The Open ASR Leaderboard's manifests carry the reference
  in `text` and the prediction in `pred_text`; `field` picks which (`pred_text` first for a
  hypothesis, `text` for a reference). A chunked long-form manifest (rows with `parent_id` and
  `chunk_index`) is merged as the leaderboard's own `merge_chunked_manifest` does: one
  transcript per parent, the chunks' predictions joined in index order, the reference of chunk
  0; chunk indices that are not 0..n-1 are warned about (a missing chunk counts as deletions).
Every bad line is a TranscriptError naming the file and line; a repeated id is one too.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from spectragram_bench.core.errors import BenchError

FORMATS = ("trn", "kaldi", "jsonl")
TRN_LINE = re.compile(r"^(?P<text>.*?)\s*\((?P<id>[^()]*)\)\s*$")
ID_KEYS = ("id", "utt_id", "key", "utterance_id")
HYP_KEYS = ("pred_text", "prediction", "hyp", "text")
REF_KEYS = ("text", "reference", "ref", "sentence")


log = logging.getLogger(__name__)
CHUNK_PARENT_KEY, CHUNK_INDEX_KEY = "parent_id", "chunk_index"


class TranscriptError(BenchError):
    pass


@dataclass(frozen=True)
class Transcript:
    utt_id: str
    text: str
    speaker: str | None = None


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    return "trn" if suffix == ".trn" else "jsonl" if suffix in (".jsonl", ".json") else "kaldi"


def trn_speaker(utt_id: str) -> str | None:
    head = re.split(r"[-_]", utt_id, maxsplit=1)
    return head[0] if len(head) > 1 and head[0] else None


def read_transcripts(path: str | Path, fmt: str | None = None, *, hypothesis: bool = True) -> dict[str, Transcript]:
    """The file's transcripts by utterance id, in file order."""
    p = Path(path)
    fmt = fmt or detect_format(p)
    if fmt not in FORMATS:
        raise TranscriptError(f"unknown transcript format {fmt!r}; use one of {', '.join(FORMATS)}")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TranscriptError(f"cannot read {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise TranscriptError(f"{p}: not UTF-8 text (byte {exc.start})") from None
    out: dict[str, Transcript] = {}
    chunks: dict[str, list[tuple[int, str, str]]] = {}  # parent -> (chunk index, text, where)
    for lineno, line in enumerate(lines, 1):
        if not line.strip() or (fmt == "kaldi" and line.lstrip().startswith("#")):
            continue
        where = f"{p}:{lineno}"
        if fmt == "jsonl" and f'"{CHUNK_PARENT_KEY}"' in line:
            parent, index, text = _chunk(line, where, hypothesis)
            chunks.setdefault(parent, []).append((index, text, where))
            continue
        t = _parse(line, fmt, where, hypothesis)
        if t.utt_id in out:
            raise TranscriptError(f"{where}: utterance id {t.utt_id!r} appears twice")
        out[t.utt_id] = t
    for parent, parts in chunks.items():
        if parent in out:
            raise TranscriptError(f"{parts[0][2]}: utterance id {parent!r} appears as a parent and as a row")
        out[parent] = _merged(parent, sorted(parts), hypothesis, p)
    return out


def _chunk(line: str, where: str, hypothesis: bool) -> tuple[str, int, str]:
    """(parent id, chunk index, text) of one row of a chunked manifest."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TranscriptError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(row, dict) or row.get(CHUNK_PARENT_KEY) in (None, ""):
        raise TranscriptError(f"{where}: expected a JSON object with a {CHUNK_PARENT_KEY}")
    index = row.get(CHUNK_INDEX_KEY)
    if not isinstance(index, int) or isinstance(index, bool):
        raise TranscriptError(f"{where}: a chunk row needs an integer {CHUNK_INDEX_KEY}")
    text = row.get("pred_text") if hypothesis else row.get("text")
    if text is not None and not isinstance(text, str):
        raise TranscriptError(f"{where}: {'pred_text' if hypothesis else 'text'} must be a string")
    return str(row[CHUNK_PARENT_KEY]), index, text or ""


def _merged(parent: str, parts: list[tuple[int, str, str]], hypothesis: bool, path: Path) -> Transcript:
    indices = [i for i, _, _ in parts]
    if indices != list(range(len(indices))):
        log.warning("%s: chunk indices of %s are not 0..%d (%s): a missing chunk counts as deletions",
                    path, parent, len(indices) - 1, ", ".join(map(str, indices)))
    if not hypothesis:  # every chunk row carries the whole recording's reference
        return Transcript(parent, " ".join(parts[0][1].split()))
    return Transcript(parent, " ".join(" ".join(t.split()) for _, t, _ in parts if t.strip()))


def _parse(line: str, fmt: str, where: str, hypothesis: bool) -> Transcript:
    if fmt == "trn":
        m = TRN_LINE.match(line)
        if not m or not m["id"].strip():
            raise TranscriptError(f"{where}: expected `text (utterance-id)` (sclite trn)")
        utt_id = m["id"].strip()
        return Transcript(utt_id, " ".join(m["text"].split()), trn_speaker(utt_id))
    if fmt == "kaldi":
        utt_id, _, text = line.strip().partition(" ")
        return Transcript(utt_id, " ".join(text.split()))
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TranscriptError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(row, dict):
        raise TranscriptError(f"{where}: expected a JSON object")
    utt_id = next((str(row[k]) for k in ID_KEYS if row.get(k) not in (None, "")), None)
    if utt_id is None and isinstance(row.get("audio_filepath"), str):
        utt_id = Path(row["audio_filepath"]).stem
    if utt_id is None:
        raise TranscriptError(f"{where}: no utterance id (one of {', '.join(ID_KEYS)}, or audio_filepath)")
    keys = HYP_KEYS if hypothesis else REF_KEYS
    text = next((row[k] for k in keys if k in row), None)
    if not isinstance(text, str):
        raise TranscriptError(f"{where}: no text (one of {', '.join(keys)})")
    speaker = row.get("speaker")
    return Transcript(utt_id, " ".join(text.split()), str(speaker) if speaker not in (None, "") else None)
