"""A fake ElevenLabs Scribe: POST /v1/speech-to-text (multipart, synchronous JSON reply).

It rejects what the real API rejects: no or a wrong `xi-api-key` (401 {"detail": {"status":
"invalid_api_key"}}), a body that is not multipart, no `file`, no `model_id` (422, FastAPI's
validation shape), an unknown model, booleans other than true/false, audio it cannot decode.
Stricter than the real API on purpose: an undocumented form field is a 422, so an adapter
leaking its own settings is caught. Replies carry the SDK's SpeechToTextChunkResponseModel
shape: text, words (word / spacing / audio_event with start, end, logprob, speaker_id),
language_code, language_probability, transcription_id, audio_duration_secs.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from .multipart import BadRequest, MultipartFake, boolean, fastapi_422, model_field, one
from .server import decode_duration, spread_words

MODELS = {"scribe_v1", "scribe_v2"}
FIELDS = frozenset(
    """model_id language_code tag_audio_events num_speakers timestamps_granularity diarize diarization_threshold
    file_format temperature seed use_multi_channel multichannel_output_style no_verbatim keyterms
    entity_detection entity_redaction entity_redaction_mode detect_speaker_roles use_speaker_library
    webhook_metadata""".split()
)
#: fields sent as JSON text (the SDK sends "null" for the ones not set)
JSON_FIELDS = ("keyterms", "entity_detection", "entity_redaction", "webhook_metadata")
BOOLEANS = ("tag_audio_events", "diarize", "use_multi_channel", "no_verbatim", "detect_speaker_roles", "use_speaker_library")
MAX_FILE_BYTES = 3 * 1024**3  # documented: up to 3 GB
STATUS_CODES = {
    400: "invalid_audio_file", 401: "invalid_api_key", 402: "payment_required", 403: "missing_permissions",
    404: "not_found", 413: "file_too_large", 429: "too_many_concurrent_requests", 500: "internal_error",
    503: "service_unavailable",
}
MESSAGES = {
    400: "The uploaded file could not be decoded as audio.",
    401: "Invalid API key",
    402: "You have insufficient quota to complete this request",
    403: "The API key you used is missing the permission speech_to_text to execute this operation.",
    413: "File size exceeds the maximum of 3GB.",
    429: "Too many concurrent requests. Your plan allows 5 concurrent requests.",
    500: "An internal error occurred.",
}


class FakeElevenLabs(MultipartFake):
    max_file_bytes = MAX_FILE_BYTES

    def __init__(self, api_key: str = "sk_el_test_0123456789abcdef0123") -> None:
        super().__init__(api_key)
        self.max_concurrency = 5  # the Creator plan's, per the help center's 429 article

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("xi-api-key", "") == self.api_key

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/speech-to-text", self.upload_endpoint)

    def reply_headers(self) -> dict[str, str]:
        return {"request-id": uuid.uuid4().hex, "current-concurrent-requests": "1",
                "maximum-concurrent-requests": str(self.max_concurrency)}

    def vendor_error(self, status: int, message: str | None, code: str | None, headers: dict[str, str]) -> web.Response:
        if status == 422:
            payload: Any = fastapi_422(code, message, "field required", "value_error")
        else:
            payload = {"detail": {"status": code or STATUS_CODES.get(status, "error"),
                                  "message": message or MESSAGES.get(status, "Error")}}
        return web.json_response(payload, status=status, headers=headers)

    def validate(self, fields: dict[str, list[str]], audio: bytes | None) -> dict[str, Any]:
        model = model_field(fields, FIELDS, "model_id", MODELS, extra="extra fields not permitted", missing="field required",
                            unknown="Model '{model}' does not exist or does not support speech to text.",
                            unknown_code="invalid_model_id")
        flags = {name: boolean(fields, name) for name in BOOLEANS}
        for name in JSON_FIELDS:
            text = one(fields, name)
            try:
                value = json.loads(text) if text is not None else None
            except json.JSONDecodeError:
                raise BadRequest(422, f"{name}: invalid JSON", code=name) from None
            if name == "keyterms" and value is not None and not isinstance(value, list):
                raise BadRequest(422, "keyterms must be a JSON list of strings", code=name)
        if audio is None:
            raise BadRequest(400, "Must provide either file or cloud_storage_url parameter.", code="invalid_parameters")
        duration = decode_duration(audio)
        if duration is None:
            raise BadRequest(400, MESSAGES[400])
        return {"model": model, "duration": duration, "text": self.transcript_for(audio),
                "language": one(fields, "language_code"), "diarize": bool(flags["diarize"])}

    def reply_body(self, r: dict[str, Any]) -> dict[str, Any]:
        words: list[dict[str, Any]] = []
        timed = spread_words(r["text"], r["duration"])
        for i, (word, start, end) in enumerate(timed):
            if i:
                words.append({"text": " ", "start": words[-1]["end"], "end": start, "type": "spacing",
                              "speaker_id": "speaker_0", "logprob": 0.0})
            words.append({"text": word, "start": start, "end": end, "type": "word", "speaker_id": "speaker_0",
                          "logprob": -0.05 * (i % 3)})
        return {
            "language_code": {"en": "eng", None: "eng"}.get(r["language"], r["language"]),
            "language_probability": 0.99,
            "text": r["text"],
            "words": words,
            "transcription_id": f"tr_{uuid.uuid4().hex[:20]}",
            "audio_duration_secs": round(r["duration"], 3),
        }
