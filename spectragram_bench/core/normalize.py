"""Text normalisation: named, versioned pipelines of small steps.

Every metric row stores the normaliser's name and version, so changing a pipeline means
bumping its version, and old numbers stay attributable to the pipeline that made them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Step = Callable[[str], str]


def lowercase(text: str) -> str:
    return text.lower()


def collapse_whitespace(text: str) -> str:
    return " ".join(text.split())


_NON_WORD = re.compile(r"[^\w\s']|_")


def strip_punctuation(text: str) -> str:
    """Replace every symbol except apostrophes inside words with a space."""
    text = _NON_WORD.sub(" ", text)
    return re.sub(r"(?<!\w)'|'(?!\w)", " ", text)


def strip_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True)
class Normalizer:
    name: str
    version: str
    steps: tuple[Step, ...]

    def __call__(self, text: str) -> str:
        for step in self.steps:
            text = step(text)
        return text

    @property
    def tag(self) -> str:
        return f"{self.name}@{self.version}"


def compose(name: str, version: str, steps: Sequence[Step]) -> Normalizer:
    return Normalizer(name, version, tuple(steps))


NONE = Normalizer("none", "1", (collapse_whitespace,))
BASIC = Normalizer("basic", "1", (lowercase, strip_diacritics, strip_punctuation, collapse_whitespace))
