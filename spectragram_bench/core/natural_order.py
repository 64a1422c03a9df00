"""Sort keys that read numbers as numbers: `noise white 5 dB` before `noise white 10 dB`.

Labels of variants (SNR, speed factor, sample rate), duration buckets and speaker ids carry
numbers; a plain text sort puts 10 before 5. `natural_key` splits a label into text and
numbers so 0, 5, 10, 20 dB sort as numbers; a minus sign counts only at the start of a word
(`-5 dB`), never between two numbers (`0-2 s`).
"""

from __future__ import annotations

import re

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?|\d+(?:\.\d+)?")


def natural_key(text: str) -> tuple[tuple[int, float, str], ...]:
    """A key comparing numbers inside `text` by value and the text between them as text."""
    out: list[tuple[int, float, str]] = []
    pos = 0
    for m in _NUMBER.finditer(text):
        if m.start() > pos:
            out.append((1, 0.0, text[pos:m.start()].lower()))
        out.append((0, float(m.group()), ""))
        pos = m.end()
    if pos < len(text):
        out.append((1, 0.0, text[pos:].lower()))
    return tuple(out)

