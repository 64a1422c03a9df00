"""A fake OpenAI transcription endpoint: POST /v1/audio/transcriptions (multipart, JSON or SSE).

It rejects what the real API rejects: no `Bearer <key>` (401 invalid_api_key; the message masks
the key like the real one, or echoes it whole with `echo_key = True` to test that the harness
scrubs it), a body that is not multipart/form-data, a missing `file` or `model`, an unknown
field (timestamp_granularities without the `[]` included), a file extension it does not take,
booleans other than true/false, response formats the gpt-4o models refuse, bodies over
26,214,400 bytes (413), undecodable audio (400), unknown models (404 model_not_found).

With `quota_exhausted` every request gets OpenAI's 429 insufficient_quota reply (an account
without credit). `api_base` mounts the API elsewhere than /v1 (a gateway's /v1/openai).

Replies carry the documented shapes and headers: x-request-id, openai-processing-ms and the
x-ratelimit-* family. With stream=true the gpt-4o models answer text/event-stream: headers at
once, the first delta `first_partial_delay_s` later, then transcript.text.done and, when
`trailing_done`, `data: [DONE]`. whisper-1 ignores stream=true, as documented.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import uuid
from typing import Any

from aiohttp import web

from .server import FakeServer, Fault, RecordedRequest, decode_duration, spread_words

MAX_FILE_BYTES = 26_214_400
FILE_EXTENSIONS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
MODELS = {"whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"}
JSON_ONLY_MODELS = {"gpt-4o-transcribe", "gpt-4o-mini-transcribe"}
FIELDS = {"model", "language", "prompt", "temperature", "response_format", "timestamp_granularities[]",
          "include[]", "stream", "chunking_strategy"}
RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
CHUNKING_KEYS = {"type", "prefix_padding_ms", "silence_duration_ms", "threshold"}
#: the 429 OpenAI answers an account without credit (type and code insufficient_quota)
QUOTA_MESSAGE = ("You exceeded your current quota, please check your plan and billing details. For more "
                 "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.")
ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "invalid_request_error",
               404: "invalid_request_error", 409: "invalid_request_error", 413: "invalid_request_error",
               429: "requests", 500: "server_error", 503: "server_error"}
ERROR_MESSAGES = {
    400: "Audio file might be corrupted or unsupported",
    403: "Country, region, or territory not supported",
    404: "The model does not exist or you do not have access to it.",
    409: "The request conflicted with another request. Please try again.",
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later",
}


class BadRequest(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


class FakeOpenAI(FakeServer):
    auth_scheme = "Bearer"

    def __init__(self, api_key: str = "sk-test-0123456789abcdefghijklmnop", api_base: str = "/v1") -> None:
        super().__init__(api_key)
        self.api_base = api_base  # where the API is mounted (a gateway may serve it under /v1/openai)
        self.quota_exhausted = False  # True: every request gets the 429 insufficient_quota reply
        self.models = set(MODELS)
        self.echo_key = False  # True: the 401 message contains the presented key unmasked
        self.first_partial_delay_s = 0.0  # streaming: delay from sending the headers to the first delta
        self.delta_gap_s = 0.0  # streaming: pause between deltas
        self.trailing_done = True  # streaming: end with `data: [DONE]`
        self.ratelimit_requests = 500

    def routes(self, app: web.Application) -> None:
        app.router.add_post(f"{self.api_base}/audio/transcriptions", self.transcriptions)

    def rate_headers(self) -> dict[str, str]:
        return {
            "x-request-id": f"req_{uuid.uuid4().hex}",
            "openai-processing-ms": "42",
            "openai-version": "2020-10-01",
            "x-ratelimit-limit-requests": str(self.ratelimit_requests),
            "x-ratelimit-remaining-requests": str(self.ratelimit_requests - 1),
            "x-ratelimit-reset-requests": "120ms",
            "x-ratelimit-limit-tokens": "2000000",
            "x-ratelimit-remaining-tokens": "1999000",
            "x-ratelimit-reset-tokens": "30ms",
        }

    def error_response(self, status: int, message: str | None = None, *, param: str | None = None,
                       code: str | None = None, headers: dict[str, str] | None = None, body: Any = None,
                       error_type: str | None = None) -> web.Response:
        hdrs = {**self.rate_headers(), **(headers or {})}
        if status == 429:
            hdrs["x-ratelimit-remaining-requests"] = "0"
        if body is not None:
            if isinstance(body, dict):
                return web.json_response(body, status=status, headers=hdrs)
            return web.Response(body=body.encode() if isinstance(body, str) else body, status=status, headers=hdrs)
        payload = {"error": {
            "message": message or ERROR_MESSAGES.get(status, "Error"),
            "type": error_type or ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error"),
            "param": param,
            "code": code,
        }}
        return web.json_response(payload, status=status, headers=hdrs)

    def auth_error(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if self.authorized(request):
            return None
        if not header.startswith("Bearer "):
            return self.error_response(401, "You didn't provide an API key. You need to provide your API key in an "
                                       "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
        presented = header[len("Bearer "):]
        shown = presented if self.echo_key else (presented[:3] + "*" * 8 + presented[-4:] if len(presented) > 8 else "***")
        return self.error_response(401, f"Incorrect API key provided: {shown}. You can find your API key at "
                                   "https://platform.openai.com/account/api-keys.", code="invalid_api_key")

    async def transcriptions(self, request: web.Request) -> web.StreamResponse:
        rec = self.record(request, body_bytes=request.content_length or 0)
        fault = self.next_fault()
        reply = await self.faulted(request, rec, fault)
        if reply is not None:
            return reply
        denied = self.auth_error(request)
        if denied is not None:
            rec.status = 401
            return denied
        if self.quota_exhausted:
            rec.status = 429
            return self.error_response(429, QUOTA_MESSAGE, code="insufficient_quota", error_type="insufficient_quota")
        try:
            form, audio = await self.read_form(request, rec)
            reply = self.validate(form, audio)
        except BadRequest as exc:
            rec.status = exc.status
            return self.error_response(exc.status, exc.message, param=exc.param, code=exc.code)
        rec.status = 200
        if reply["stream"]:
            return await self.stream(request, reply, fault)
        return self.reply(reply, fault)

    async def read_form(self, request: web.Request, rec: RecordedRequest) -> tuple[dict[str, list[str]], bytes]:
        ctype = request.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            raise BadRequest(400, f"Invalid Content-Type header ({ctype or 'none'}), expected multipart/form-data.")
        if (request.content_length or 0) > MAX_FILE_BYTES:
            raise BadRequest(413, f"Maximum content size limit ({MAX_FILE_BYTES}) exceeded "
                             f"({request.content_length} bytes read)", code="request_too_large")
        form: dict[str, list[str]] = {}
        audio: bytes | None = None
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                if name != "file":
                    raise BadRequest(400, f"Unrecognized file field: {name}", param=name)
                audio = value.file.read()
                rec.file_name, rec.file_type = value.filename, value.content_type
            else:
                form.setdefault(name, []).append(str(value))
        rec.fields = form
        if audio is None:
            raise BadRequest(400, "you must provide a file", param="file")
        if len(audio) > MAX_FILE_BYTES:
            raise BadRequest(413, f"Maximum content size limit ({MAX_FILE_BYTES}) exceeded", code="request_too_large")
        ext = (rec.file_name or "").rsplit(".", 1)[-1].lower()
        if ext not in FILE_EXTENSIONS:
            raise BadRequest(400, f"Invalid file format. Supported formats: {list(FILE_EXTENSIONS)}", param="file",
                             code="invalid_value")
        return form, audio

    def validate(self, form: dict[str, list[str]], audio: bytes) -> dict[str, Any]:
        for name, values in form.items():
            if name.startswith("chunking_strategy[") and name.endswith("]"):  # the SDK's form of an object
                if name[len("chunking_strategy["):-1] not in CHUNKING_KEYS:
                    raise BadRequest(400, f"Unrecognized request argument supplied: {name}", param="chunking_strategy")
                continue
            if name not in FIELDS:
                raise BadRequest(400, f"Unrecognized request argument supplied: {name}", param=name)
            if not name.endswith("[]") and len(values) > 1:
                raise BadRequest(400, f"'{name}' was given more than once", param=name)
        one = {k: v[0] for k, v in form.items() if not k.endswith("[]")}
        model = one.get("model")
        if not model:
            raise BadRequest(400, "you must provide a model parameter", param="model")
        if model not in self.models:
            raise BadRequest(404, f"The model `{model}` does not exist or you do not have access to it.",
                             code="model_not_found")
        if "chunking_strategy" in one and one["chunking_strategy"] != "auto":
            raise BadRequest(400, "Invalid value for 'chunking_strategy': expected 'auto' or an object with type "
                             f"'server_vad', got {one['chunking_strategy']!r}", param="chunking_strategy")
        if form.get("chunking_strategy[type]", ["server_vad"]) != ["server_vad"]:
            raise BadRequest(400, "chunking_strategy.type must be 'server_vad'", param="chunking_strategy")
        fmt = one.get("response_format", "json")
        if fmt not in RESPONSE_FORMATS:
            raise BadRequest(400, f"Invalid value for response_format: '{fmt}'", param="response_format")
        if model in JSON_ONLY_MODELS and fmt not in ("json", "text"):
            raise BadRequest(400, f"response_format '{fmt}' is not compatible with model '{model}'. "
                             "Use 'json' or 'text' instead.", param="response_format")
        granularities = form.get("timestamp_granularities[]", [])
        if granularities and fmt != "verbose_json":
            raise BadRequest(400, "timestamp_granularities[] is only supported with response_format verbose_json",
                             param="timestamp_granularities")
        if any(g not in ("word", "segment") for g in granularities):
            raise BadRequest(400, f"Invalid timestamp granularity in {granularities}", param="timestamp_granularities")
        stream = one.get("stream", "false")
        if stream not in ("true", "false"):
            raise BadRequest(400, f"Invalid value for 'stream': expected a boolean, got '{stream}'", param="stream")
        if "temperature" in one:
            try:
                temperature = float(one["temperature"])
            except ValueError:
                temperature = -1.0
            if not 0.0 <= temperature <= 1.0:
                raise BadRequest(400, "temperature must be a number between 0 and 1", param="temperature")
        if "language" in one and not re.fullmatch(r"[a-z]{2}", one["language"]):
            raise BadRequest(400, f"Invalid language '{one['language']}'. Language parameter must be specified in "
                             "ISO-639-1 format.", param="language")
        duration = decode_duration(audio)
        if duration is None:
            raise BadRequest(400, ERROR_MESSAGES[400], param="file", code="invalid_value")
        return {
            "model": model, "format": fmt, "granularities": granularities or ["segment"],
            "stream": stream == "true" and model in JSON_ONLY_MODELS,
            "duration": duration, "text": self.transcript_for(audio),
        }

    def usage(self, r: dict[str, Any]) -> dict[str, Any]:
        if r["model"] in JSON_ONLY_MODELS:
            audio_tokens = int(r["duration"] * 10)
            out = len(r["text"].split()) + 1
            return {"type": "tokens", "input_tokens": audio_tokens, "input_token_details": {
                "text_tokens": 0, "audio_tokens": audio_tokens}, "output_tokens": out, "total_tokens": audio_tokens + out}
        return {"type": "duration", "seconds": math.ceil(r["duration"])}

    def reply(self, r: dict[str, Any], fault: Fault | None) -> web.Response:
        headers = self.rate_headers()
        if r["format"] == "text":
            return web.Response(text=r["text"] + "\n", headers=headers)
        body: dict[str, Any] = {"text": r["text"], "usage": self.usage(r)}
        if r["format"] == "verbose_json":
            timed = spread_words(r["text"], r["duration"])
            body = {"task": "transcribe", "language": "english", "duration": round(r["duration"], 2), "text": r["text"]}
            if "word" in r["granularities"]:
                body["words"] = [{"word": w, "start": s, "end": e} for w, s, e in timed]
            if "segment" in r["granularities"]:
                body["segments"] = [{
                    "id": 0, "seek": 0, "start": 0.0, "end": round(r["duration"], 2), "text": " " + r["text"],
                    "tokens": [50364], "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.2,
                    "no_speech_prob": 0.01}]
            body["usage"] = self.usage(r)
        if fault is not None and fault.malformed:
            return web.Response(body=json.dumps(body)[:25].encode(), content_type="application/json", headers=headers)
        return web.json_response(body, headers=headers)

    async def stream(self, request: web.Request, r: dict[str, Any], fault: Fault | None) -> web.StreamResponse:
        response = web.StreamResponse(headers={**self.rate_headers(), "Content-Type": "text/event-stream",
                                               "Cache-Control": "no-cache"})
        await response.prepare(request)  # headers go out now; the first delta only after the delay
        await asyncio.sleep(self.first_partial_delay_s)
        words = r["text"].split()
        for i, word in enumerate(words):
            delta = word if i == 0 else " " + word
            await response.write(f"data: {json.dumps({'type': 'transcript.text.delta', 'delta': delta})}\n\n".encode())
            if fault is not None and fault.malformed:
                await response.write(b'data: {"type": "transcript.text.del\n\n')
                return response
            if self.delta_gap_s:
                await asyncio.sleep(self.delta_gap_s)
        done = {"type": "transcript.text.done", "text": r["text"], "usage": self.usage(r)}
        await response.write(f"data: {json.dumps(done)}\n\n".encode())
        if self.trailing_done:
            await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response
