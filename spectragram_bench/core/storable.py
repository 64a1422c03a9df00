"""Text every supported database stores, and results with no secret in them.

PostgreSQL refuses NUL in text columns and neither database takes a lone surrogate (not
valid UTF-8), while SQLite stores NUL; left alone, one such character fails a whole write
batch on PostgreSQL and the same data gives different outcomes on the two databases. So on
the way in, on both databases alike:

- text from a provider (transcripts, error texts, usage, meta): each refused character is
  replaced by U+FFFD, and the result notes how many were replaced and the SHA-256 of the raw
  UTF-8 bytes (`latency_meta.text_replaced`), so the transcript is still scored and the
  provider's exact reply remains identifiable;
- what a dataset gives (utterance ids, reference texts, speakers, paths): an id longer than
  its column or with a control character, a NUL in a reference, an over-long speaker is that
  utterance's input failure (`meta.load_error`, one line naming it), stored under a stand-in
  id derived from the raw id's hash, so nothing is sent and planning never fails.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from typing import Any

from spectragram_bench.core.records import PredictionResult, UtteranceRecord
from spectragram_bench.core.scrubbing import holds_secret, scrub_known, scrub_text, scrub_value

REPLACEMENT = "\ufffd"
#: characters no supported database stores in a text column: NUL and lone surrogates
_REFUSED = re.compile("[\x00\ud800-\udfff]")
#: C0/C1 control characters other than tab, newline, carriage return: not part of an id
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

#: column widths (core/models.py)
EXTERNAL_ID_CHARS = 500
SPEAKER_CHARS = 200
SHORT_TEXT_CHARS = 200  # model revision, labels


def raw_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def storable_text(text: str) -> tuple[str, int]:
    """(text with refused characters replaced, how many were)."""
    if text.isascii() and "\x00" not in text:
        return text, 0
    return _REFUSED.subn(REPLACEMENT, text)


def storable_value(value: Any) -> Any:
    """A JSON-like value with refused characters replaced in every string (keys included)."""
    if isinstance(value, str):
        return storable_text(value)[0]
    if isinstance(value, dict):
        return {storable_value(k) if isinstance(k, str) else k: storable_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable_value(v) for v in value]
    return value


def storable_short(text: str | None, limit: int = SHORT_TEXT_CHARS) -> str | None:
    """A short provider-given label (a model revision) scrubbed, storable, cut to its column."""
    if text is None:
        return None
    return storable_text(scrub_text(text))[0][:limit]


_REFUSED_IN_JSON = re.compile(r"\\u0000|[\ud800-\udfff]")


def _clean(value: Any, *, known_only: bool) -> Any:
    """`value` scrubbed and storable. The common case (nothing to change) is one C-speed
    JSON dump and two searches instead of a Python walk over every word of a transcript."""
    if value is None:
        return None
    try:
        dumped = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        dumped = None
    if dumped is not None and not holds_secret(dumped, known_only=known_only) and not _REFUSED_IN_JSON.search(dumped):
        return value
    return storable_value(scrub_value(value, known_only=known_only))


def storable_result(r: PredictionResult) -> PredictionResult:
    """The result as the writer stores it: no secret, nothing a database refuses."""
    meta = _clean(r.latency_meta, known_only=False)
    hyp = r.hyp_text
    if hyp is not None:
        raw = hyp
        hyp, replaced = storable_text(scrub_known(hyp))
        if replaced:
            meta = {**meta, "text_replaced": {"characters": replaced, "raw_sha256": raw_sha256(raw)}}
    error = storable_text(scrub_text(r.error_text))[0] if r.error_text is not None else None
    return dataclasses.replace(
        r,
        hyp_text=hyp,
        error_text=error,
        words=_clean(r.words, known_only=True),
        usage=_clean(r.usage, known_only=False),
        latency_meta=meta,
    )


def _shown(value: str) -> str:
    """A printable preview of a hostile value for an error line."""
    preview = value[:40] + ("..." if len(value) > 40 else "")
    return repr(preview)


def _storable_as_is(value: Any) -> bool:
    """Nothing to replace in a JSON-like value, checked without building a copy (planning calls
    this for every row of a dataset, twice)."""
    if isinstance(value, str):
        return "\x00" not in value if value.isascii() else _REFUSED.search(value) is None
    if isinstance(value, dict):
        return all(_storable_as_is(k) and _storable_as_is(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_storable_as_is(v) for v in value)
    return True


def storable_record(rec: UtteranceRecord, dataset: str) -> UtteranceRecord:
    """A dataset record every database stores; what cannot be stored faithfully becomes
    the utterance's input failure (one line) instead of a failed plan."""
    problems: list[str] = []
    external_id = rec.external_id
    if len(external_id) > EXTERNAL_ID_CHARS:
        problems.append(f"utterance id {_shown(external_id)} is {len(external_id)} characters (at most {EXTERNAL_ID_CHARS})")
    elif _CONTROL.search(external_id) or _REFUSED.search(external_id):
        problems.append(f"utterance id {_shown(external_id)} contains a control character")
    if problems:
        external_id = f"invalid-id-{raw_sha256(rec.external_id)[:16]}"
    ref_text, replaced = storable_text(rec.ref_text)
    if replaced:
        problems.append(f"reference text has {replaced} NUL or invalid character(s)")
    speaker = rec.speaker
    if speaker is not None and (len(speaker) > SPEAKER_CHARS or _CONTROL.search(speaker) or _REFUSED.search(speaker)):
        problems.append(f"speaker {_shown(speaker)} is over {SPEAKER_CHARS} characters or has a control character")
        speaker = f"invalid-speaker-{raw_sha256(speaker)[:16]}"
    audio_path, replaced = storable_text(rec.audio_path)
    if replaced:
        problems.append("audio path contains a NUL or invalid character")
    meta = rec.meta if _storable_as_is(rec.meta) else storable_value(rec.meta)
    if not problems and meta == rec.meta:
        return rec
    if problems:
        where = f"dataset {dataset!r}, audio {_shown(audio_path)}"
        line = f"{where}: " + "; ".join(problems)
        meta["load_error"] = f"{meta['load_error']}; {line}" if meta.get("load_error") else line
    return dataclasses.replace(rec, external_id=external_id, ref_text=ref_text, speaker=speaker, audio_path=audio_path, meta=meta)
