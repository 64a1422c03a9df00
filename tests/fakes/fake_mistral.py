"""A fake Mistral transcription endpoint: POST /v1/audio/transcriptions (multipart, JSON reply).

It rejects what the real API rejects: no `Bearer <key>` (401 {"message": "Unauthorized",
"request_id"}), a body that is not multipart, no `file` or `model`, an unknown model (400 with
Mistral's {"object": "error", "message", "type", "param", "code"} shape), booleans other than
true/false. Stricter on purpose: an undocumented field (such as OpenAI's bracketed
`timestamp_granularities[]`) is a 422 in the FastAPI validation shape. Replies carry the SDK's
TranscriptionResponse: model (the dated model behind an alias), text, language, segments
(per word with timestamp_granularities=word) and usage.prompt_audio_seconds.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from aiohttp import web

from .multipart import BadRequest, MultipartFake, boolean, fastapi_422, model_field, one
from .server import decode_duration, spread_words

MODELS = {"voxtral-mini-latest": "voxtral-mini-2507", "voxtral-mini-2507": "voxtral-mini-2507",
          "voxtral-mini-2602": "voxtral-mini-2602"}
FIELDS = frozenset({"model", "language", "temperature", "diarize", "context_bias", "timestamp_granularities", "stream"})
MAX_FILE_BYTES = 1024**3
MESSAGES = {401: "Unauthorized", 403: "Forbidden", 429: "Requests rate limit exceeded",
            500: "Internal server error", 503: "Service unavailable"}


class FakeMistral(MultipartFake):
    max_file_bytes = MAX_FILE_BYTES

    def __init__(self, api_key: str = "mistral-test-0123456789abcdef0123") -> None:
        super().__init__(api_key)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/audio/transcriptions", self.upload_endpoint)

    def reply_headers(self) -> dict[str, str]:
        return {"x-kong-request-id": uuid.uuid4().hex}

    def vendor_error(self, status: int, message: str | None, code: str | None, headers: dict[str, str]) -> web.Response:
        if status in MESSAGES and message is None:
            payload: Any = {"message": MESSAGES[status], "request_id": headers["x-kong-request-id"]}
        elif status == 422:
            payload = fastapi_422(code, message, "Field required", "missing")
        else:
            payload = {"object": "error", "message": message or "Invalid request", "type": "invalid_request_error",
                       "param": None, "code": code}
        return web.json_response(payload, status=status, headers=headers)

    def validate(self, fields: dict[str, list[str]], audio: bytes | None) -> dict[str, Any]:
        model = model_field(fields, FIELDS, "model", MODELS, extra="Extra inputs are not permitted", missing="Field required",
                            unknown="Invalid model: {model}", unknown_code="1500")
        boolean(fields, "diarize")
        if boolean(fields, "stream"):
            raise BadRequest(400, "stream=true is not supported on this route by the fake", code="stream")
        granularities = fields.get("timestamp_granularities", [])
        if any(g not in ("segment", "word") for g in granularities):
            raise BadRequest(422, f"Input should be 'segment' or 'word': {granularities}", code="timestamp_granularities")
        if audio is None:
            raise BadRequest(400, "Either file, file_url or file_id must be provided", code="3001")
        duration = decode_duration(audio)
        if duration is None:
            raise BadRequest(400, "Audio input could not be decoded", code="3310")
        return {"model": MODELS[model], "duration": duration, "text": self.transcript_for(audio),
                "language": one(fields, "language"), "granularities": granularities}

    def reply_body(self, r: dict[str, Any]) -> dict[str, Any]:
        segments: list[dict[str, Any]] = []
        if "word" in r["granularities"]:
            segments = [{"type": "transcription_segment", "text": f" {w}", "start": s, "end": e}
                        for w, s, e in spread_words(r["text"], r["duration"])]
        elif "segment" in r["granularities"]:
            segments = [{"type": "transcription_segment", "text": r["text"], "start": 0.0, "end": round(r["duration"], 2)}]
        audio_s = math.ceil(r["duration"])
        return {
            "model": r["model"],
            "text": " " + r["text"],
            "language": r["language"],
            "segments": segments,
            "usage": {"prompt_audio_seconds": audio_s, "prompt_tokens": 4 + audio_s * 13,
                      "total_tokens": 4 + audio_s * 13 + len(r["text"].split()), "completion_tokens": len(r["text"].split())},
        }
