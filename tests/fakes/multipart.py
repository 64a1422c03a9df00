"""Reading a multipart/form-data upload the way the vendors' servers do: text fields by name,
exactly one file part under the vendor's field name, a size cap, and a clear rejection
(`BadRequest`, turned into the vendor's own error body by each fake) for anything else."""

from __future__ import annotations

from aiohttp import web

from .server import RecordedRequest


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


def boolean(fields: dict[str, list[str]], name: str) -> bool | None:
    value = one(fields, name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise BadRequest(422, f"{name}: value is not a valid boolean ({value!r})")
    return value == "true"
