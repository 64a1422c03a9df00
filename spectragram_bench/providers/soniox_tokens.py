"""Soniox tokens -> text and words, for the async API (providers/soniox.py) and real-time
(providers/soniox_live.py) alike.

A Soniox token is a piece of text, often less than a word ({"text": "Hel"}, {"text": "lo"},
{"text": " world"}, {"text": "."}), with start_ms, end_ms, confidence and, when diarized, speaker.
A token whose text begins with whitespace starts a new word; any other token continues the word
before it (so punctuation stays on its word, as in "world."). The text is the tokens' texts
joined as they are. Markers (<end>, <fin>) and translated tokens (translation_status
"translation") are not the transcript.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MARKERS = frozenset({"<end>", "<fin>"})


def transcript_tokens(tokens: Iterable[Any]) -> list[dict[str, Any]]:
    """The tokens that are the spoken transcript (no markers, no translations)."""
    return [t for t in tokens if isinstance(t, dict) and isinstance(t.get("text"), str) and t["text"] not in MARKERS
            and t.get("translation_status") != "translation"]


def tokens_text(tokens: list[dict[str, Any]]) -> str:
    return "".join(t["text"] for t in tokens).strip()


def tokens_words(tokens: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Words in seconds: the first token's start, the last one's end, the lowest token confidence
    (a word is as sure as its least sure piece), the first token's speaker."""
    groups: list[list[dict[str, Any]]] = []
    for t in tokens:
        if not t["text"].strip():
            continue
        if not groups or t["text"][:1].isspace():
            groups.append([t])
        else:
            groups[-1].append(t)
    words = []
    for group in groups:
        starts = [t["start_ms"] for t in group if isinstance(t.get("start_ms"), (int, float))]
        ends = [t["end_ms"] for t in group if isinstance(t.get("end_ms"), (int, float))]
        confidences = [t["confidence"] for t in group if isinstance(t.get("confidence"), (int, float))]
        word: dict[str, Any] = {"word": "".join(t["text"] for t in group).strip(),
                                "start": starts[0] / 1000 if starts else None, "end": ends[-1] / 1000 if ends else None,
                                "confidence": min(confidences) if confidences else None}
        if group[0].get("speaker") is not None:
            word["speaker"] = group[0]["speaker"]
        words.append(word)
    return words
