"""A fake Google Cloud Speech-to-Text v2 REST endpoint:
POST /v2/projects/{project}/locations/{location}/recognizers/{recognizer}:recognize (JSON).

It answers as the real API does, in google.rpc.Status JSON ({"error": {"code", "message",
"status", "details"}}): a wrong API key is 400 INVALID_ARGUMENT with ErrorInfo reason
API_KEY_INVALID (Google's own behaviour), no credentials 401 UNAUTHENTICATED, an unknown
project 403 PERMISSION_DENIED, an unknown recognizer 404 NOT_FOUND; a missing model or
language_codes, content that is not base64, audio it cannot decode or over 60 s are 400
INVALID_ARGUMENT; 429 RESOURCE_EXHAUSTED carries RetryInfo. The reply is RecognizeResponse JSON:
results[].alternatives[]{transcript, confidence, words[]{word, startOffset, endOffset,
confidence}}, results[].resultEndOffset, languageCode, metadata{requestId, totalBilledDuration}
(whole seconds, rounded up).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from typing import Any

from aiohttp import web

from .server import FakeServer, decode_duration, spread_words

MODELS = {"chirp_2", "chirp_3", "long", "short", "latest_long", "latest_short", "telephony"}
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 402: "FAILED_PRECONDITION", 403: "PERMISSION_DENIED",
          404: "NOT_FOUND", 408: "DEADLINE_EXCEEDED", 409: "ABORTED", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
          500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
MESSAGES = {401: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
                 "valid authentication credential.",
            403: "Permission 'speech.recognizers.recognize' denied on resource (or it may not exist).",
            429: "Quota exceeded for quota metric 'Recognize requests' and limit 'Recognize requests per minute per region'.",
            503: "The service is currently unavailable."}


class FakeGoogleSpeech(FakeServer):
    def __init__(self, api_key: str = "AIzaTest0123456789abcdefghijklmnopqrs", project: str = "bench-project") -> None:
        super().__init__(api_key)
        self.project = project
        self.recognizers = {"_"}
        self.serving = 0  # its own count (the base class's in_flight also counts every request)
        self.max_in_flight = 0  # the most requests the fake was serving at one moment

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("x-goog-api-key") == self.api_key

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/projects/{project}/locations/{location}/recognizers/{recognizer_call}", self.recognize)

    def error_response(self, status: int, message: str | None = None, headers: dict[str, str] | None = None,
                       body: Any = None, details: list[dict[str, Any]] | None = None) -> web.Response:
        if body is not None:
            raw = json.dumps(body).encode() if isinstance(body, dict) else (body.encode() if isinstance(body, str) else body)
            return web.Response(body=raw, status=status, headers=headers or {}, content_type="application/json")
        error = {"code": status, "message": message or MESSAGES.get(status, "Error"), "status": STATUS.get(status, "UNKNOWN")}
        if details:
            error["details"] = details
        return web.json_response({"error": error}, status=status, headers=headers or {})

    def api_key_invalid(self) -> web.Response:
        return self.error_response(400, "API key not valid. Please pass a valid API key.", details=[{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com",
            "metadata": {"service": "speech.googleapis.com"}}])

    async def recognize(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self.serving += 1
            self.max_in_flight = max(self.max_in_flight, self.serving)
        try:
            return await self.serve_recognize(request)
        finally:
            with self._lock:
                self.serving -= 1

    async def serve_recognize(self, request: web.Request) -> web.StreamResponse:
        rec = self.record(request, body_bytes=request.content_length or 0)
        fault = self.next_fault()
        reply = await self.faulted(request, rec, fault)
        if reply is not None:
            return reply
        if "x-goog-api-key" not in request.headers and "Authorization" not in request.headers:
            rec.status = 401
            return self.error_response(401)
        if not self.authorized(request):
            rec.status = 400
            return self.api_key_invalid()
        recognizer, _, method = request.match_info["recognizer_call"].partition(":")
        if method != "recognize":
            rec.status = 404
            return self.error_response(404, f"Method {method!r} not found.")
        if request.match_info["project"] != self.project:
            rec.status = 403
            return self.error_response(403)
        if recognizer not in self.recognizers:
            rec.status = 404
            return self.error_response(404, f"Unable to find Recognizer {recognizer!r}.")
        try:
            payload = await request.json()
        except json.JSONDecodeError:
            rec.status = 400
            return self.error_response(400, "Invalid JSON payload received.")
        rec.fields = {"config": [json.dumps(payload.get("config"))]}
        problem, result = self.check(payload)
        if problem:
            rec.status = 400
            return self.error_response(400, problem)
        rec.status = 200
        body = self.reply_body(result, payload["config"])
        if fault is not None and fault.malformed:
            return web.Response(body=json.dumps(body)[:30].encode(), content_type="application/json")
        return web.json_response(body)

    def check(self, payload: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        config = payload.get("config") or {}
        if config.get("model") not in MODELS:
            return f"Invalid recognizer model: {config.get('model')!r}.", {}
        codes = config.get("languageCodes")
        if not codes or not all(isinstance(c, str) and c for c in codes):
            return "Recognizer is missing required field language_codes.", {}
        if "autoDecodingConfig" not in config and "explicitDecodingConfig" not in config:
            return "A decoding config (auto_decoding_config or explicit_decoding_config) is required.", {}
        try:
            audio = base64.b64decode(payload.get("content") or "", validate=True)
        except (binascii.Error, ValueError):
            return "Invalid value at 'content' (TYPE_BYTES): not base64.", {}
        duration = decode_duration(audio)
        if duration is None:
            return "Audio data does not appear to be in a supported encoding.", {}
        if duration > 60:
            return "Audio can be of a maximum of 60 seconds.", {}
        return None, {"duration": duration, "text": self.transcript_for(audio), "language": codes[0].lower()}

    def reply_body(self, r: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        features = config.get("features") or {}
        alternative: dict[str, Any] = {"transcript": r["text"], "confidence": 0.9431}
        if features.get("enableWordTimeOffsets"):
            alternative["words"] = []
            for w, s, e in spread_words(r["text"], r["duration"]):
                word: dict[str, Any] = {"startOffset": f"{s:.3f}s", "endOffset": f"{e:.3f}s", "word": w}
                if features.get("enableWordConfidence"):
                    word["confidence"] = 0.91
                alternative["words"].append(word)
        return {
            "results": [{"alternatives": [alternative], "resultEndOffset": f"{r['duration']:.3f}s", "languageCode": r["language"]}],
            "metadata": {"requestId": str(uuid.uuid4()), "totalBilledDuration": f"{math.ceil(r['duration'])}s"},
        }


def resource_exhausted(retry_delay: str = "2s") -> Any:
    """Google's 429 for a per-minute quota, with google.rpc.RetryInfo."""
    from .server import Fault

    return Fault(status=429, body={"error": {"code": 429, "message": MESSAGES[429], "status": "RESOURCE_EXHAUSTED", "details": [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com"},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}]}})
