"""What some metrics need beyond reference and hypothesis: non-speech marks, keyword lists,
formatted references.

- A clip is *non-speech* when its utterance meta says `"nonspeech": true` (a manifest field):
  its reference is empty on purpose, it is scored only by the hallucination metrics, and never
  adds insertions to WER.
- Keywords of an utterance: its manifest field `keywords` (a list of words or phrases, or one
  string separated by `;`), plus every entry of the job's `evaluation.keywords_file` (one a line,
  `#` comments), each looked for in reference and hypothesis (so a listed keyword the system
  invents is a false positive).
- The formatted reference (case and punctuation kept): meta `text_formatted`, else the line of
  the job's `evaluation.formatted_references` (Kaldi text: `<utt id> <text>`), else the stored
  reference itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spectragram_bench.core.config import EvaluationConfig
from spectragram_bench.core.errors import ConfigError

NONSPEECH_KEY = "nonspeech"


def is_nonspeech(meta: dict[str, Any] | None) -> bool:
    value = (meta or {}).get(NONSPEECH_KEY)
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1", "yes"))


def _read(path: str, what: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"evaluation.{what}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"evaluation.{what}: {path} is not UTF-8 text") from None


@dataclass
class JobInputs:
    keywords: list[str] = field(default_factory=list)
    formatted: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, evaluation: EvaluationConfig) -> JobInputs:
        keywords = []
        if evaluation.keywords_file:
            for line in _read(evaluation.keywords_file, "keywords_file"):
                entry = line.split("#", 1)[0].strip()
                if entry:
                    keywords.append(entry)
        formatted = {}
        if evaluation.formatted_references:
            for line in _read(evaluation.formatted_references, "formatted_references"):
                utt_id, _, text = line.strip().partition(" ")
                if utt_id:
                    formatted[utt_id] = text.strip()
        return cls(keywords, formatted)

    def keywords_of(self, meta: dict[str, Any]) -> list[str]:
        own = meta.get("keywords")
        if isinstance(own, str):
            out = [k.strip() for k in own.split(";") if k.strip()]
        else:
            out = [str(k).strip() for k in own if str(k).strip()] if isinstance(own, list) else []
        return out + [k for k in self.keywords if k not in out]

    def formatted_reference(self, external_id: str, meta: dict[str, Any], reference: str) -> str:
        text = meta.get("text_formatted")
        if isinstance(text, str) and text.strip():
            return text
        return self.formatted.get(external_id, reference)
