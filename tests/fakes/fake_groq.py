"""A fake Groq speech-to-text endpoint: the fake OpenAI's multipart checks, mounted where Groq
mounts them (POST /openai/v1/audio/transcriptions), with Groq's models, replies (verbose_json
without `usage`, `x_groq.id`) and headers (the organisation's x-ratelimit-* on every reply:
requests per day, tokens per minute, remaining counts, resets; x-request-id). Its 429 body is
Groq's rate_limit_exceeded error naming the limit (e.g. audio seconds per hour, ASH).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from .fake_openai import FakeOpenAI
from .server import Fault

MODELS = {"whisper-large-v3", "whisper-large-v3-turbo"}
ASH_429 = ("Rate limit reached for model `whisper-large-v3-turbo` in organization `org_01test` service tier `on_demand` "
           "on audio seconds per hour (ASH): Limit 7200, Used 7195, Requested 12. Please try again in 7s.")


class FakeGroq(FakeOpenAI):
    def __init__(self, api_key: str = "gsk_test_0123456789abcdefghijklmnop") -> None:
        super().__init__(api_key)
        self.models = set(MODELS)
        self.requests_per_day = 2000

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/openai/v1/audio/transcriptions", self.transcriptions)

    def rate_headers(self) -> dict[str, str]:
        served = len(self.requests)
        return {
            "x-request-id": f"req_{uuid.uuid4().hex[:26]}",
            "x-ratelimit-limit-requests": str(self.requests_per_day),
            "x-ratelimit-remaining-requests": str(max(0, self.requests_per_day - served)),
            "x-ratelimit-reset-requests": "43.2s",
            "x-ratelimit-limit-tokens": "400000",
            "x-ratelimit-remaining-tokens": "400000",
            "x-ratelimit-reset-tokens": "0s",
        }

    def reply(self, r: dict[str, Any], fault: Fault | None) -> web.Response:
        response = super().reply(r, fault)
        if r["format"] == "text" or (fault is not None and fault.malformed):
            return response
        body = json.loads(response.body)
        body.pop("usage", None)  # Groq's transcription replies carry no usage block
        body["x_groq"] = {"id": f"req_{uuid.uuid4().hex[:26]}"}
        return web.json_response(body, headers={k: v for k, v in response.headers.items() if k.lower().startswith("x-")})


def ash_rate_limit(retry_after: str = "7") -> Fault:
    """Groq's 429 for the audio-seconds-per-hour limit, with its retry-after."""
    return Fault(status=429, headers={"retry-after": retry_after},
                 body={"error": {"message": ASH_429, "type": "audio_seconds", "code": "rate_limit_exceeded"}})
