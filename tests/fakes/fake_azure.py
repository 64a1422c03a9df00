"""A fake Azure AI Speech fast transcription endpoint:
POST /speechtotext/transcriptions:transcribe?api-version=... (multipart `audio` + `definition`).

It rejects what the real service rejects: no or a wrong `Ocp-Apim-Subscription-Key` (401
"Access denied due to invalid subscription key or wrong API endpoint"), an api-version it does
not serve (404), a body that is not multipart, a missing or non-JSON `definition`, a locale
that is not a locale, undecodable audio (400 InvalidAudioFormat inside Azure's
{"error": {"code", "message", "innerError"}} body). Stricter on purpose: an undocumented
definition property is a 400. Replies carry the SDK's TranscriptionResult shape:
durationMilliseconds, combinedPhrases, phrases with words in offsetMilliseconds /
durationMilliseconds, locale and confidence.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from aiohttp import web

from .multipart import BadRequest, MultipartFake, one
from .server import decode_duration, spread_words

API_VERSIONS = {"2024-11-15", "2025-10-15"}
DEFINITION_FIELDS = frozenset({"locales", "models", "profanityFilterMode", "diarization", "channels", "enhancedMode",
                               "phraseList", "audioUrl"})
MESSAGES = {
    401: "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an "
         "active subscription and use a correct regional API endpoint for your resource.",
    403: "The subscription is disabled or the resource has no access to this operation.",
    404: "Resource not found",
    429: "Requests to the Speech to text Operation under Azure AI Speech API have exceeded rate limit of your current "
         "tier. Please retry after 1 second.",
    500: "Internal server error.",
    503: "The service is temporarily unavailable.",
}
CODES = {400: "InvalidRequest", 413: "PayloadTooLarge", 415: "UnsupportedMediaType", 500: "InternalServerError",
         503: "ServiceUnavailable"}


class FakeAzureSpeech(MultipartFake):
    file_field = "audio"
    max_file_bytes = 300 * 1024**2
    json_parts = frozenset({"definition"})

    def __init__(self, api_key: str = "0123456789abcdef0123456789abcdef") -> None:
        super().__init__(api_key)
        self.confidence = 0.9312

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("Ocp-Apim-Subscription-Key", "") == self.api_key

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/speechtotext/transcriptions:transcribe", self.transcribe)

    async def transcribe(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("api-version") not in API_VERSIONS:
            rec = self.record(request)
            rec.status = 404
            return self.error_response(404)
        return await self.upload_endpoint(request)

    def reply_headers(self) -> dict[str, str]:
        return {"apim-request-id": str(uuid.uuid4())}

    def vendor_error(self, status: int, message: str | None, code: str | None, headers: dict[str, str]) -> web.Response:
        error: dict[str, Any] = {"code": CODES.get(status, str(status)), "message": message or MESSAGES.get(status, "Error")}
        if code:
            error["innerError"] = {"code": code, "message": message or ""}
        return web.json_response({"error": error}, status=status, headers=headers)

    def validate(self, fields: dict[str, list[str]], audio: bytes | None) -> dict[str, Any]:
        text = one(fields, "definition")
        if text is None:
            raise BadRequest(400, "The definition part is required.", code="MissingDefinition")
        try:
            definition = json.loads(text)
        except json.JSONDecodeError:
            raise BadRequest(400, "The definition is not valid JSON.", code="InvalidDefinition") from None
        if not isinstance(definition, dict):
            raise BadRequest(400, "The definition must be a JSON object.", code="InvalidDefinition")
        unknown = sorted(set(definition) - DEFINITION_FIELDS)
        if unknown:
            raise BadRequest(400, f"Unknown definition properties: {unknown}", code="InvalidDefinition")
        locales = definition.get("locales", [])
        if not isinstance(locales, list) or any(not re.fullmatch(r"[a-z]{2,3}-[A-Z]{2}", str(x)) for x in locales):
            raise BadRequest(400, f"Invalid locales: {locales}", code="InvalidLocale")
        extra = sorted(set(fields) - {"definition"})
        if extra:
            raise BadRequest(400, f"Unexpected form parts: {extra}", code="InvalidRequest")
        if audio is None:
            raise BadRequest(400, "Either audio or audioUrl must be provided.", code="MissingAudio")
        duration = decode_duration(audio)
        if duration is None:
            raise BadRequest(400, "The audio format is not supported or the audio is corrupt.", code="InvalidAudioFormat")
        return {"duration": duration, "text": self.transcript_for(audio), "locale": (locales or ["en-US"])[0],
                "diarize": "diarization" in definition}

    def reply_body(self, r: dict[str, Any]) -> dict[str, Any]:
        total_ms = int(round(r["duration"] * 1000))
        words = [{"text": w, "offsetMilliseconds": int(s * 1000), "durationMilliseconds": max(1, int((e - s) * 1000))}
                 for w, s, e in spread_words(r["text"], r["duration"])]
        phrase: dict[str, Any] = {"offsetMilliseconds": 0, "durationMilliseconds": total_ms, "text": r["text"],
                                  "words": words, "locale": r["locale"], "confidence": self.confidence}
        if r["diarize"]:
            phrase["speaker"] = 1
        return {"durationMilliseconds": total_ms, "combinedPhrases": [{"text": r["text"]}], "phrases": [phrase]}
