"""What never reaches the database, a log or a report from a config: secret-looking fields
replaced, a database URL's password hidden (the stored benchmark config, model params, reports)."""

from __future__ import annotations

import re
from typing import Any

SECRET_MARKERS = ("key", "token", "secret", "password", "authorization")
#: a marker as a whole word of a field name: api_key, x-api-key, access_token, but not keyterm
_SECRET_FIELD = re.compile(r"(?:^|[_\-.])(?:api)?(?:" + "|".join(SECRET_MARKERS) + r")(?:$|[_\-.])")
REDACTED = "***REDACTED***"


def redact(value: Any) -> Any:
    """A copy with every secret-looking field replaced (api_key_env names a variable, so it stays)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            lowered = str(k).lower()
            secret = bool(_SECRET_FIELD.search(lowered)) and lowered != "api_key_env"
            out[k] = REDACTED if secret and v not in (None, "") else redact(v)
        return out
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_url(value)
    return value


def redact_url(text: str) -> str:
    """Hide a password in a database URL such as postgresql://user:pw@host/db."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if "://" not in text or "@" not in text:
        return text
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        return text
    if url.password is None:
        return text
    return url.render_as_string(hide_password=True)
