"""Scripted faults and the outcome every adapter must give for them (shared by the adapter tests)."""

from __future__ import annotations

import pytest

from spectragram_bench.providers.base import ErrorKind

from .server import Fault

#: (fault, expected kind, expected retry_after_s)
FAULT_CASES = [
    pytest.param(Fault.http(429, retry_after="2"), ErrorKind.RATE_LIMITED, 2.0, id="429-retry-after"),
    pytest.param(Fault.http(429, retry_after_ms="1500"), ErrorKind.RATE_LIMITED, 1.5, id="429-retry-after-ms"),
    pytest.param(Fault.http(429, x_ratelimit_reset_requests="6m0s"), ErrorKind.RATE_LIMITED, 360.0, id="429-ratelimit-reset"),
    pytest.param(Fault.http(401), ErrorKind.FATAL, None, id="401-invalid-key"),
    pytest.param(Fault.http(402), ErrorKind.FATAL, None, id="402-no-credit"),
    pytest.param(Fault.http(403), ErrorKind.FATAL, None, id="403-forbidden"),
    pytest.param(Fault.http(404), ErrorKind.FATAL, None, id="404-unknown-model"),
    pytest.param(Fault.http(400), ErrorKind.UTTERANCE, None, id="400-corrupt-audio"),
    pytest.param(Fault.http(413), ErrorKind.UTTERANCE, None, id="413-too-large"),
    pytest.param(Fault.http(408), ErrorKind.RETRYABLE, None, id="408"),
    pytest.param(Fault.http(409), ErrorKind.RETRYABLE, None, id="409"),
    pytest.param(Fault.http(500), ErrorKind.RETRYABLE, None, id="500"),
    pytest.param(Fault.http(503, retry_after="1"), ErrorKind.RETRYABLE, 1.0, id="503-retry-after"),
    pytest.param(Fault.malformed_json(), ErrorKind.RETRYABLE, None, id="malformed-json"),
    pytest.param(Fault.connection_reset(), ErrorKind.RETRYABLE, None, id="connection-reset"),
]
