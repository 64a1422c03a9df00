"""One scrubbing path for secrets: whatever a provider sends back (error texts, bodies quoted
in errors, headers, usage, meta) passes through here before it is stored, logged or reported.

Two layers, because a server may echo a key we know or one we do not (a wrong or rotated key,
another account's token):
- values: every API key read from the environment is registered once (`register_secret`,
  called by the cloud base class when it reads the key) and replaced wherever it appears;
- shapes: `Bearer <token>`, `Token <token>`, `Basic <credentials>` and the value of an
  `Authorization` / `*-api-key` / `api_key=` field are replaced, whoever's key it is.

Transcripts (hyp text, word lists) get the value layer only: the shape layer would rewrite
ordinary speech ("a token of thanks") and change the scores.

Where it runs: `ProviderError` scrubs its message on construction (every adapter, also ones
written later), the result writer scrubs every result before storing it (core/storable.py),
and `ScrubbingFilter` sits on the CLI's log handlers.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
#: shorter values are not treated as secrets (replacing "ab" everywhere would garble text)
MIN_SECRET_CHARS = 6

_lock = threading.Lock()
_secrets: set[str] = set()
_secrets_pattern: re.Pattern[str] | None = None

#: a credential after an auth scheme; it must contain a digit ("Bearer YOUR_KEY" in a help text stays)
_SCHEME_TOKEN = re.compile(r"(?i)\b(bearer|token|basic)(\s+)(?=[A-Za-z._~+/=:-]*[0-9])[A-Za-z0-9._~+/=:-]{8,}")
_FIELD_VALUE = re.compile(
    r"(?i)\b((?:proxy-)?authorization|x-api-key|xi-api-key|api[-_]?key|access[-_]?token|"
    r"ocp-apim-subscription-key|x-goog-api-key)"
    r"(\"?'?\s*[:=]\s*\"?'?)"
    r"(?!\*\*\*|(?:bearer|token|basic)\b)([^\s\"',;&}]+)"
)


def register_secret(value: str | None) -> None:
    """Remember a key so that no stored or logged text can contain it."""
    global _secrets_pattern
    if not value or len(value.strip()) < MIN_SECRET_CHARS:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        _secrets.add(value.strip())
        _secrets.add(json.dumps(value.strip(), ensure_ascii=False)[1:-1])  # as it appears inside JSON text
        ordered = sorted(_secrets, key=len, reverse=True)  # a key containing another goes first
        _secrets_pattern = re.compile("|".join(re.escape(s) for s in ordered))


def scrub_known(text: str, extra: Iterable[str | None] = ()) -> str:
    """`text` with every registered secret (and any in `extra`) replaced."""
    for secret in extra:
        if secret:
            text = text.replace(secret, MASK)
    pattern = _secrets_pattern
    return pattern.sub(MASK, text) if pattern is not None else text


#: words one of the shape patterns needs: texts without any skip the (slower) regexes
_SCHEME_WORDS = ("bearer", "token", "basic")
_FIELD_WORDS = ("auth", "key", "token")


def _may_have(text: str, words: tuple[str, ...]) -> bool:
    low = text.lower()
    return any(w in low for w in words)


def scrub_text(text: str, extra: Iterable[str | None] = ()) -> str:
    """Both layers: known secrets, then credential-shaped substrings."""
    text = scrub_known(text, extra)
    if _may_have(text, _SCHEME_WORDS):
        text = _SCHEME_TOKEN.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    if _may_have(text, _FIELD_WORDS):
        text = _FIELD_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return text


def holds_secret(text: str, *, known_only: bool = False) -> bool:
    """Whether scrubbing could change `text` (a quick test; JSON text works too)."""
    pattern = _secrets_pattern
    if pattern is not None and pattern.search(text):
        return True
    if known_only:
        return False
    return bool((_may_have(text, _SCHEME_WORDS) and _SCHEME_TOKEN.search(text))
                or (_may_have(text, _FIELD_WORDS) and _FIELD_VALUE.search(text)))


def scrub_value(value: Any, *, known_only: bool = False) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings) with every string scrubbed."""
    scrub = scrub_known if known_only else scrub_text
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(k) if isinstance(k, str) else k: scrub_value(v, known_only=known_only) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_value(v, known_only=known_only) for v in value]
    return value


class ScrubbingFilter(logging.Filter):
    """A log-handler filter: the formatted message and any traceback text are scrubbed."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call: leave it to the handler
            return True
        record.msg, record.args = scrub_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        return True


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Put the filter on every handler of `logger` (the root logger by default)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, ScrubbingFilter) for f in handler.filters):
            handler.addFilter(ScrubbingFilter())
