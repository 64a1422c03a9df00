"""The shared classifier and retry-hint reader, with real exception and header objects."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.frames import Close
from websockets.http11 import Response

from spectragram_bench.providers.base import ErrorKind, ProviderError
from spectragram_bench.providers.http_errors import (
    MAX_MESSAGE_CHARS,
    error_for_exception,
    error_for_status,
    kind_for_status,
    parse_duration,
    parse_retry_after,
    reply_json,
)


@pytest.mark.parametrize(
    "text, seconds",
    [("12ms", 0.012), ("1s", 1.0), ("6m0s", 360.0), ("1h2m3.5s", 3723.5), ("0.5s", 0.5), ("2.5", 2.5),
     ("20", 20.0), ("", None), ("soon", None), ("1x", None), ("5s garbage", None)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


@pytest.mark.parametrize(
    "headers, seconds",
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # ms wins, as in the OpenAI SDK
        ({"x-ratelimit-reset-requests": "6m0s", "x-ratelimit-reset-tokens": "12ms"}, 360.0),
        ({"x-ratelimit-reset-tokens": "1s"}, 1.0),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "whenever"}, None),
        ({"retry-after-ms": "n/a", "retry-after": "2"}, 2.0),
        ({"content-type": "application/json"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers, seconds):
    got = parse_retry_after(httpx.Headers(headers))
    assert got == (pytest.approx(seconds) if seconds is not None else None)


def test_rate_limit_resets_count_for_a_429_only():
    headers = httpx.Headers({"x-ratelimit-reset-requests": "120ms"})
    assert parse_retry_after(headers, rate_limit_resets=False) is None
    assert error_for_status(429, headers=headers).retry_after_s == pytest.approx(0.12)
    assert error_for_status(503, headers=headers).retry_after_s is None
    assert error_for_status(503, headers=httpx.Headers({"retry-after": "2", **headers})).retry_after_s == 2.0


def test_parse_retry_after_http_date():
    now = datetime(2026, 11, 3, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(datetime(2026, 11, 3, 12, 0, 30, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(httpx.Headers({"Retry-After": later}), now=now.timestamp()) == pytest.approx(30.0)
    earlier = format_datetime(datetime(2026, 11, 3, 11, 0, 0, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(httpx.Headers({"Retry-After": earlier}), now=now.timestamp()) == 0.0


def test_parse_retry_after_reads_websocket_headers_case_insensitively():
    assert parse_retry_after(Headers({"RETRY-AFTER": "4"})) == 4.0
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    "status, kind",
    [(400, ErrorKind.UTTERANCE), (401, ErrorKind.FATAL), (402, ErrorKind.FATAL), (403, ErrorKind.FATAL),
     (404, ErrorKind.FATAL), (405, ErrorKind.FATAL), (408, ErrorKind.RETRYABLE), (409, ErrorKind.RETRYABLE),
     (413, ErrorKind.UTTERANCE), (415, ErrorKind.UTTERANCE), (422, ErrorKind.UTTERANCE),
     (429, ErrorKind.RATE_LIMITED), (500, ErrorKind.RETRYABLE), (502, ErrorKind.RETRYABLE),
     (503, ErrorKind.RETRYABLE), (504, ErrorKind.RETRYABLE), (529, ErrorKind.RETRYABLE)],
)
def test_kind_for_status(status, kind):
    assert kind_for_status(status) == kind


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}},
         "Incorrect API key provided (invalid_api_key)"),
        ({"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials.", "request_id": "r-1"},
         "Invalid credentials. (INVALID_AUTH) [request r-1]"),
        ({"category": "INVALID_JSON", "message": "Invalid JSON submitted.", "details": "missing field"},
         "Invalid JSON submitted.: missing field"),
        ({"detail": "Model not loaded"}, "Model not loaded"),
        ({"detail": [{"loc": ["body", "file"], "msg": "field required"}]}, '[{"loc": ["body", "file"], "msg": "field required"}]'),
        ("<html><body>Bad   Gateway</body></html>", "<html><body>Bad Gateway</body></html>"),
        (None, "Service Unavailable"),
    ],
)
def test_error_message_shapes(body, expected):
    raw = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body.encode() if body else b"")
    status = 503 if body is None else 400
    err = error_for_status(status, body=raw)
    assert err.message == expected
    assert str(err) == f"HTTP {status}: {expected}"


def test_error_for_status_scrubs_secrets_and_cuts_long_bodies():
    key = "sk-live-SECRET-0123456789"
    err = error_for_status(401, body=json.dumps({"error": {"message": f"Incorrect API key provided: {key}."}}), secrets=[key, None])
    assert key not in str(err) and "***" in str(err)
    assert err.kind == ErrorKind.FATAL
    long = error_for_status(500, body="x" * 5000)
    assert len(long.message) == MAX_MESSAGE_CHARS


def test_error_for_status_retry_hint_and_request_id():
    err = error_for_status(429, headers=httpx.Headers({"retry-after": "3"}), body=b"{}", request_id="req_9")
    assert (err.kind, err.retry_after_s, err.request_id, err.status) == (ErrorKind.RATE_LIMITED, 3.0, "req_9", 429)
    assert "[request req_9]" in err.message
    # a hint on a fatal error is not an invitation to retry
    assert error_for_status(401, headers=httpx.Headers({"retry-after": "3"})).retry_after_s is None


def test_x_should_retry_overrides_the_status_but_never_a_fatal_one():
    assert error_for_status(400, headers=httpx.Headers({"x-should-retry": "true"})).kind == ErrorKind.RETRYABLE
    assert error_for_status(503, headers=httpx.Headers({"x-should-retry": "false"})).kind == ErrorKind.UTTERANCE
    assert error_for_status(401, headers=httpx.Headers({"x-should-retry": "true"})).kind == ErrorKind.FATAL


def _request() -> httpx.Request:
    return httpx.Request("POST", "http://127.0.0.1:9/v1/listen")


@pytest.mark.parametrize(
    "exc, kind, words",
    [
        (httpx.ReadTimeout("timed out", request=_request()), ErrorKind.RETRYABLE, "timeout"),
        (httpx.ConnectTimeout("timed out", request=_request()), ErrorKind.RETRYABLE, "timeout"),
        (TimeoutError(), ErrorKind.RETRYABLE, "timeout"),
        (httpx.ConnectError("[Errno 111] Connection refused", request=_request()), ErrorKind.RETRYABLE, "connection failed"),
        (httpx.ReadError("[Errno 104] Connection reset by peer", request=_request()), ErrorKind.RETRYABLE, "Connection reset by peer"),
        (httpx.RemoteProtocolError("Server disconnected", request=_request()), ErrorKind.RETRYABLE, "Server disconnected"),
        (ConnectionResetError(104, "Connection reset by peer"), ErrorKind.RETRYABLE, "connection failed"),
        (ConnectionClosedError(Close(1011, "NET-0001"), None), ErrorKind.RETRYABLE, "code 1011: NET-0001"),
        (ConnectionClosedError(Close(1008, "DATA-0000"), None), ErrorKind.UTTERANCE, "code 1008: DATA-0000"),
        (ConnectionClosedError(None, None), ErrorKind.RETRYABLE, "without a close frame"),
    ],
)
def test_error_for_exception(exc, kind, words):
    err = error_for_exception(exc)
    assert isinstance(err, ProviderError)
    assert err.kind == kind
    assert words in str(err)


def test_refused_websocket_handshake_is_classified_by_its_status():
    response = Response(401, "Unauthorized", Headers({"dg-error": "Invalid credentials.", "dg-request-id": "abc"}), b"")
    err = error_for_exception(InvalidStatus(response))
    assert (err.kind, err.status, err.request_id) == (ErrorKind.FATAL, 401, "abc")
    assert "Invalid credentials." in err.message
    busy = Response(429, "Too Many Requests", Headers({"retry-after": "5"}), b'{"err_msg": "over the limit"}')
    err = error_for_exception(InvalidStatus(busy))
    assert (err.kind, err.retry_after_s) == (ErrorKind.RATE_LIMITED, 5.0)


def test_reply_json_malformed_is_retryable():
    assert reply_json(b'{"a": 1}', what="reply") == {"a": 1}
    with pytest.raises(ProviderError) as info:
        reply_json(b'{"metadata": {"req', what="Deepgram reply")
    assert info.value.kind == ErrorKind.RETRYABLE
    assert "malformed JSON in the Deepgram reply" in str(info.value)
