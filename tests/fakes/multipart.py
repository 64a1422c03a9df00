"""Reading a multipart/form-data upload the way the vendors' servers do: text fields by name,
exactly one file part under the vendor's field name, a size cap, and a clear rejection
(`BadRequest`, turned into the vendor's own error body by each fake) for anything else."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .server import FakeServer, RecordedRequest


class BadRequest(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


async def read_upload(request: web.Request, rec: RecordedRequest, *, file_field: str, max_bytes: int,
                      json_parts: frozenset[str] = frozenset()) -> tuple[dict[str, list[str]], bytes | None]:
    """(text fields, file bytes or None). `json_parts` are text parts sent with a JSON content
    type (Azure's `definition`), read as fields."""
    ctype = request.headers.get("Content-Type", "")
    if not ctype.startswith("multipart/form-data"):
        raise BadRequest(415 if ctype else 400, f"Content-Type must be multipart/form-data, got {ctype or 'none'}")
    if (request.content_length or 0) > max_bytes:
        raise BadRequest(413, f"request body of {request.content_length} bytes is over the {max_bytes}-byte limit")
    fields: dict[str, list[str]] = {}
    audio: bytes | None = None
    reader = await request.multipart()
    async for part in reader:
        if part.filename is not None and part.name not in json_parts:
            if part.name != file_field:
                raise BadRequest(400, f"unexpected file field {part.name!r} (expected {file_field!r})")
            if audio is not None:
                raise BadRequest(400, f"more than one {file_field!r} part")
            audio = bytes(await part.read())
            rec.file_name, rec.file_type = part.filename, part.headers.get("Content-Type")
        else:
            fields.setdefault(part.name or "", []).append(await part.text())
    rec.fields = fields
    rec.body_bytes = request.content_length or 0
    return fields, audio


def one(fields: dict[str, list[str]], name: str) -> str | None:
    """A field that must appear at most once (a repeated one is a 400, as on the real APIs)."""
    values = fields.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest(400, f"field {name!r} was given {len(values)} times")
    return values[0]


def model_field(fields: dict[str, list[str]], allowed: frozenset[str], name: str, models: Any, *, extra: str,
                missing: str, unknown: str, unknown_code: str) -> str:
    """The model a FastAPI-style upload names (ElevenLabs, Mistral), once its fields are checked:
    an unknown field (`extra`: the vendor's words) or no model (`missing`) is a 422 naming the field,
    a model not in `models` a 400 (`unknown`, formatted with {model})."""
    unexpected = sorted(set(fields) - allowed)
    if unexpected:
        raise BadRequest(422, f"{extra}: {unexpected}", code=unexpected[0])
    model = one(fields, name)
    if not model:
        raise BadRequest(422, missing, code=name)
    if model not in models:
        raise BadRequest(400, unknown.format(model=model), code=unknown_code)
    return model


def fastapi_422(field: str | None, message: str | None, default: str, kind: str) -> dict[str, Any]:
    """A FastAPI validation error body, as both ElevenLabs and Mistral answer a 422."""
    return {"detail": [{"loc": ["body", field or "file"], "msg": message or default, "type": kind}]}


def boolean(fields: dict[str, list[str]], name: str) -> bool | None:
    value = one(fields, name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise BadRequest(422, f"{name}: value is not a valid boolean ({value!r})")
    return value == "true"


class MultipartFake(FakeServer):
    """A vendor whose transcription is one multipart POST answered with one JSON body
    (ElevenLabs, Mistral, Azure). Subclasses give the field names, `validate` (fields, audio ->
    what the reply needs, or BadRequest), `reply_body`, `reply_headers` and `vendor_error` (the
    vendor's own error shape); this class does the fault script, auth, upload and reply."""

    file_field = "file"
    max_file_bytes = 1024**3
    json_parts: frozenset[str] = frozenset()

    def vendor_error(self, status: int, message: str | None, code: str | None, headers: dict[str, str]) -> web.Response:
        raise NotImplementedError

    def validate(self, fields: dict[str, list[str]], audio: bytes | None) -> dict[str, Any]:
        raise NotImplementedError

    def reply_body(self, result: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def reply_headers(self) -> dict[str, str]:
        return {}

    def error_response(self, status: int, message: str | None = None, headers: dict[str, str] | None = None,
                       body: Any = None, code: str | None = None) -> web.Response:
        headers = {**self.reply_headers(), **(headers or {})}
        if body is None:
            return self.vendor_error(status, message, code, headers)
        raw = json.dumps(body).encode() if isinstance(body, dict) else (body.encode() if isinstance(body, str) else body)
        return web.Response(body=raw, status=status, headers=headers, content_type="application/json")

    async def upload_endpoint(self, request: web.Request) -> web.StreamResponse:
        rec = self.record(request, body_bytes=request.content_length or 0)
        fault, reply = await self.admit(request, rec)
        if reply is not None:
            return reply
        try:
            fields, audio = await read_upload(request, rec, file_field=self.file_field, max_bytes=self.max_file_bytes,
                                              json_parts=self.json_parts)
            result = self.validate(fields, audio)
        except BadRequest as exc:
            rec.status = exc.status
            return self.error_response(exc.status, exc.message, code=exc.code)
        rec.status = 200
        body = self.reply_body(result)
        if fault is not None and fault.malformed:
            return web.Response(body=json.dumps(body)[:30].encode(), content_type="application/json")
        return web.json_response(body, headers=self.reply_headers())
