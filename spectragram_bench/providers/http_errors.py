"""One place that turns an HTTP status, a websocket close or a transport exception into a
typed ProviderError, and one reader of the servers' retry hints.

Every network adapter (Deepgram, OpenAI and OpenAI-compatible servers) goes through here, so
"what is retryable" is decided once: 429 is rate limited (unless its error code is
insufficient_quota: no credit, fatal for the run); 408, 409, 5xx, timeouts and dropped
connections are transient; 401/402/403/404 cannot succeed for any utterance (bad key, no
credit, no access, unknown model or endpoint), so the executor stops the job run; other 4xx
(400 corrupt audio, 413 too large, 415, 422) fail this utterance only.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import aiohttp
import httpx
import websockets.exceptions as wse

from spectragram_bench.core.scrubbing import scrub_text
from spectragram_bench.providers.base import ErrorKind, ProviderError

#: statuses after which no utterance of the job run can succeed
RUN_FATAL_STATUSES = frozenset({401, 402, 403, 404, 405})
#: statuses worth another attempt (as the official OpenAI SDK retries them)
TRANSIENT_STATUSES = frozenset({408, 409})
RATE_LIMITED_STATUS = 429
#: OpenAI's 429 type/code for an account without credit ("You exceeded your current quota"):
#: fatal for the run, unlike a rate limit
QUOTA_EXHAUSTED = "insufficient_quota"

#: the longest message kept from an error body; the rest is cut (bodies can be HTML pages)
MAX_MESSAGE_CHARS = 300

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float | None:
    """Seconds in a Go-style duration as OpenAI's x-ratelimit-reset-* headers give it
    ("12ms", "1s", "6m0s", "1h2m3.5s"); a bare number is seconds. None when unparseable."""
    text = text.strip().lower()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


def parse_retry_after(
    headers: Mapping[str, str] | None, now: float | None = None, *, rate_limit_resets: bool = True
) -> float | None:
    """The delay in seconds a server asks for before the next attempt, or None.

    Precedence: retry-after-ms, then Retry-After (seconds or an HTTP date), then (unless
    `rate_limit_resets` is False: they say when a rate-limit window reopens, which matters for a
    429 only) the largest of x-ratelimit-reset-requests / -tokens (durations such as "6m0s").
    `headers` must look keys up case-insensitively (aiohttp's and httpx's headers, websockets' Headers).
    """
    if not headers:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is not None:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None and when.tzinfo is not None:
                return max(0.0, when.timestamp() - (time.time() if now is None else now))
    if not rate_limit_resets:
        return None
    resets = [
        parse_duration(v)
        for v in (headers.get("x-ratelimit-reset-requests"), headers.get("x-ratelimit-reset-tokens"))
        if v is not None
    ]
    resets = [r for r in resets if r is not None]
    return max(resets) if resets else None


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret replaced, so a server that echoes a key cannot leak it
    (the one scrubbing path, core/scrubbing.py, plus the adapter's own `secrets`)."""
    return scrub_text(text, secrets)


def error_message(body: Any) -> str | None:
    """The human message in an error body, whichever documented shape it has:
    OpenAI {"error": {"message", "code", "type"}}, Deepgram {"err_code", "err_msg"} or
    {"category", "message", "details"}, FastAPI-style {"detail"} (self-hosted servers, Mistral's
    422), ElevenLabs {"detail": {"status", "message"}}."""
    if isinstance(body, str):
        return body.strip() or None
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, dict):
        message = err.get("message") or ""
        code = err.get("code") or err.get("type")
        return f"{message} ({code})" if code and message else (message or code or None)
    if isinstance(err, str) and err:
        return err
    if body.get("err_msg") or body.get("err_code"):
        msg, code = body.get("err_msg") or "", body.get("err_code")
        return f"{msg} ({code})" if code and msg else (msg or code)
    if body.get("message") or body.get("category"):
        parts = [body.get("message") or body.get("category")]
        if body.get("details"):
            parts.append(str(body["details"]))
        return ": ".join(str(p) for p in parts)
    detail = body.get("detail")
    if isinstance(detail, dict) and (detail.get("message") or detail.get("status")):
        # ElevenLabs: {"detail": {"status": "invalid_api_key", "message": "..."}}
        msg, code = detail.get("message") or "", detail.get("status")
        return f"{msg} ({code})" if code and msg else (msg or code)
    if detail:
        return json.dumps(detail) if not isinstance(detail, str) else detail
    return None


def _error_codes(body: Any) -> set[str]:
    """The machine-readable codes of an OpenAI-style error body ({"error": {"type", "code"}})."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return set()
    return {str(err[k]) for k in ("type", "code") if err.get(k)}


def kind_for_status(status: int) -> ErrorKind:
    if status in RUN_FATAL_STATUSES:
        return ErrorKind.FATAL
    if status == RATE_LIMITED_STATUS:
        return ErrorKind.RATE_LIMITED
    if status in TRANSIENT_STATUSES or status >= 500:
        return ErrorKind.RETRYABLE
    return ErrorKind.UTTERANCE


def _should_retry_override(headers: Mapping[str, str] | None, kind: ErrorKind) -> ErrorKind:
    """OpenAI's x-should-retry header overrides the status for non-fatal errors."""
    hint = (headers or {}).get("x-should-retry")
    if hint is None or kind == ErrorKind.FATAL:
        return kind
    if hint.strip().lower() == "true" and kind == ErrorKind.UTTERANCE:
        return ErrorKind.RETRYABLE
    if hint.strip().lower() == "false" and kind in (ErrorKind.RETRYABLE, ErrorKind.RATE_LIMITED):
        return ErrorKind.UTTERANCE
    return kind


def error_for_status(
    status: int,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    request_id: str | None = None,
    secrets: Iterable[str | None] = (),
) -> ProviderError:
    """The ProviderError for a non-2xx reply (HTTP response or refused websocket handshake)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        parsed: Any = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        parsed = text
    message = error_message(parsed) or httpx.codes.get_reason_phrase(status) or "error"
    if isinstance(parsed, dict) and not request_id:
        request_id = parsed.get("request_id") or None
    message = " ".join(scrub(message, secrets).split())[:MAX_MESSAGE_CHARS]
    if request_id:
        message = f"{message} [request {request_id}]"
    kind = _should_retry_override(headers, kind_for_status(status))
    if status == RATE_LIMITED_STATUS and QUOTA_EXHAUSTED in _error_codes(parsed):
        kind = ErrorKind.FATAL  # no credit left: waiting does not help, and every retry is refused alike
    retry_after = None
    if kind in (ErrorKind.RATE_LIMITED, ErrorKind.RETRYABLE):
        retry_after = parse_retry_after(headers, rate_limit_resets=kind == ErrorKind.RATE_LIMITED)
    return ProviderError(kind, message, status=status, retry_after_s=retry_after, request_id=request_id)


class HTTPReply(Protocol):
    """What the classifier reads of a reply: http_client.Reply, or an httpx.Response."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes


def error_for_response(response: HTTPReply, *, request_id_header: str, secrets: Iterable[str | None] = ()) -> ProviderError:
    """error_for_status for a reply whose body has been read."""
    return error_for_status(
        response.status_code,
        headers=response.headers,
        body=response.content,
        request_id=response.headers.get(request_id_header),
        secrets=secrets,
    )


def error_for_exception(exc: BaseException, *, secrets: Iterable[str | None] = ()) -> ProviderError:
    """A ProviderError for a failure that produced no HTTP status: timeouts, refused or reset
    connections, protocol errors, websocket handshakes refused with a status, abnormal closes."""
    if isinstance(exc, ProviderError):  # already classified (e.g. a reply over max_reply_bytes)
        return exc
    detail = scrub(f"{type(exc).__name__}: {exc}".strip(), secrets)[:MAX_MESSAGE_CHARS]
    if isinstance(exc, wse.InvalidStatus):
        response = exc.response
        headers = response.headers
        request_id = headers.get("dg-request-id") or headers.get("x-request-id")
        body = response.body or (headers.get("dg-error") or "").encode()
        return error_for_status(response.status_code, headers=headers, body=body, request_id=request_id, secrets=secrets)
    if isinstance(exc, wse.ConnectionClosed):
        if exc.sent is not None and exc.sent.code == 1009:  # we closed it: a message over max_size
            return ProviderError(
                ErrorKind.UTTERANCE,
                "a websocket message from the provider was over max_reply_bytes; the stream was closed "
                "(raise max_reply_bytes in the provider config if such messages are expected)",
            )
        close = exc.rcvd
        if close is None:
            return ProviderError(ErrorKind.RETRYABLE, f"websocket connection lost without a close frame ({detail})")
        reason = scrub(close.reason or "", secrets)
        # 1008 policy violation is how Deepgram reports audio it cannot decode (DATA-0000);
        # 1011 internal error and 1001/1006/1012-1014 are transient (NET-0000, NET-0001, restarts).
        kind = ErrorKind.UTTERANCE if close.code in (1003, 1007, 1008, 1009) else ErrorKind.RETRYABLE
        return ProviderError(kind, f"websocket closed with code {close.code}: {reason or 'no reason given'}")
    if isinstance(exc, (httpx.ConnectTimeout, aiohttp.ConnectionTimeoutError)):  # no connection: the server is unreachable
        return ProviderError(ErrorKind.RETRYABLE, f"connect timeout ({detail})", unreachable=True)
    if isinstance(exc, (httpx.ConnectError, aiohttp.ClientConnectorError, aiohttp.ClientSSLError,
                        ConnectionRefusedError, socket.gaierror, ssl.SSLError)):
        return ProviderError(ErrorKind.RETRYABLE, f"connection failed ({detail})", unreachable=True)
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return ProviderError(ErrorKind.RETRYABLE, f"timeout ({detail})")
    if isinstance(exc, aiohttp.ClientPayloadError):  # the body ended early or was corrupt
        return ProviderError(ErrorKind.RETRYABLE, f"incomplete reply ({detail})")
    if isinstance(exc, (aiohttp.ClientError, httpx.TransportError, wse.WebSocketException, OSError)):
        return ProviderError(ErrorKind.RETRYABLE, f"connection failed ({detail})")
    return ProviderError(ErrorKind.RETRYABLE, detail)


def reply_json(content: bytes, *, what: str) -> Any:
    """Parse a 2xx reply body; a truncated or malformed body is a transient failure."""
    try:
        return json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        preview = content[:80].decode("utf-8", "replace")
        raise ProviderError(ErrorKind.RETRYABLE, f"malformed JSON in the {what} ({exc}; starts {preview!r})") from None


def bad_reply(what: str) -> ProviderError:
    """A well-formed reply missing what the documented shape promises (this utterance fails)."""
    return ProviderError(ErrorKind.UTTERANCE, f"unexpected reply shape: {what}")
