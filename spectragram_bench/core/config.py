"""Job configuration: pydantic v2 models, strict (unknown keys rejected), with a JSON schema.

Relative paths in a job file (dataset roots, manifests) are resolved against the folder of
the job file, so a job runs the same from any working directory.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from spectragram_bench.core.errors import ConfigError

DEFAULT_DB_DIR = "runs"
DEFAULT_DB_FILE = "spectragram.db"
DB_URL_ENV = "SPECTRAGRAM_DB_URL"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimit(Strict):
    """Provider limits the executor must stay under."""

    requests_per_minute: float | None = Field(None, gt=0)
    audio_seconds_per_minute: float | None = Field(None, gt=0)


class ProviderConfig(Strict):
    """One provider x model to benchmark."""

    name: str = Field(description="registry name of the provider adapter, e.g. 'pocketsphinx', 'deepgram'")
    model: str = Field("default", description="model name as the provider spells it")
    label: str | None = Field(None, description="display name; defaults to name/model")
    mode: Literal["batch", "streaming"] = "batch"
    params: dict[str, Any] = Field(default_factory=dict, description="adapter parameters sent as-is")
    base_url: str | None = Field(None, description="API base URL; defaults to the provider's public URL")
    api_key_env: str | None = Field(None, description="environment variable holding the API key")
    concurrency: int = Field(4, ge=1, le=1024)
    rate_limit: RateLimit | None = None
    timeout_s: float = Field(120.0, gt=0, description="per-request timeout")
    max_attempts: int = Field(5, ge=1, le=50, description="attempts per utterance, first one included")
    price_per_minute_usd: float | None = Field(None, ge=0, description="overrides the dated default price table")

    @property
    def display(self) -> str:
        return self.label or f"{self.name}/{self.model}"


class CleanVariant(Strict):
    """The audio as it is on disk."""

    kind: Literal["clean"] = "clean"


# Datasets issue: a discriminated union of clean, noise, telephony and speed variants.
Variant = CleanVariant


class DatasetConfig(Strict):
    """One corpus on local disk and the variants to derive from it."""

    name: str = Field(description="registry name of the loader, e.g. 'librispeech'")
    root: str = Field(description="local folder; relative paths are resolved against the job file's folder")
    subsets: list[str] = Field(default_factory=list, description="subsets or splits; empty = all found")
    variants: list[Variant] = Field(default_factory=lambda: [CleanVariant()], min_length=1)
    options: dict[str, Any] = Field(default_factory=dict, description="loader-specific options")


class EvaluationConfig(Strict):
    normalizer: str = Field("whisper_english", description="registry name of the text normaliser")
    normalizer_steps: list[str] | None = Field(
        None, description="compose the normaliser from these step names instead (see core/normalize.py STEPS)"
    )
    bootstrap_iterations: int = Field(1000, ge=0, le=1_000_000)
    bootstrap_seed: int = 0


class JobConfig(Strict):
    """A benchmark job: every provider runs over every dataset variant."""

    name: str = "benchmark"
    description: str | None = None
    providers: list[ProviderConfig] = Field(min_length=1)
    datasets: list[DatasetConfig] = Field(min_length=1)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    database_url: str | None = Field(None, description=f"SQLAlchemy URL; else --db, ${DB_URL_ENV}, or ./runs/")
    max_utt: int | None = Field(None, ge=1, description="utterances per job run")
    max_per_subset: int | None = Field(None, ge=1, description="utterances per dataset subset")
    selection_seed: int = Field(0, description="seed of the deterministic utterance selection")

    @field_validator("providers")
    @classmethod
    def _unique_labels(cls, providers: list[ProviderConfig]) -> list[ProviderConfig]:
        seen: set[str] = set()
        for p in providers:
            if p.display in seen:
                raise ValueError(f"two providers share the label {p.display!r}; give one a 'label'")
            seen.add(p.display)
        return providers


def _json_path(loc: tuple[Any, ...]) -> str:
    path = "$"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def format_validation_error(source: str, exc: ValidationError) -> str:
    """All problems on one line: `source: $.providers[0].concurrency: must be >= 1; ...`."""
    parts = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if p not in ("clean",))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        parts.append(f"{_json_path(loc)}: {msg}")
    return f"{source}: invalid config: " + "; ".join(parts)


def parse_config(data: Any, source: str = "<config>", base_dir: Path | None = None) -> JobConfig:
    try:
        config = JobConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None
    if base_dir is not None:
        config = resolve_paths(config, base_dir)
    return config


def resolve_paths(config: JobConfig, base_dir: Path) -> JobConfig:
    datasets = []
    for ds in config.datasets:
        root = Path(ds.root).expanduser()
        if not root.is_absolute():
            root = (base_dir / root).resolve()
        datasets.append(ds.model_copy(update={"root": str(root)}))
    return config.model_copy(update={"datasets": datasets})


def load_config(path: str | os.PathLike[str]) -> JobConfig:
    """Read and validate a job file; every failure is one ConfigError line naming the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {p}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    return parse_config(data, str(p), p.resolve().parent)


def json_schema() -> dict[str, Any]:
    return JobConfig.model_json_schema()


SECRET_MARKERS = ("key", "token", "secret", "password", "authorization")
#: a marker as a whole word of a field name: api_key, x-api-key, access_token, but not keyterm
_SECRET_FIELD = re.compile(r"(?:^|[_\-.])(?:api)?(?:" + "|".join(SECRET_MARKERS) + r")(?:$|[_\-.])")
REDACTED = "***REDACTED***"


def redact(value: Any) -> Any:
    """A copy with every secret-looking field replaced (api_key_env names a variable, so it stays)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            lowered = str(k).lower()
            secret = bool(_SECRET_FIELD.search(lowered)) and lowered != "api_key_env"
            out[k] = REDACTED if secret and v not in (None, "") else redact(v)
        return out
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_url(value)
    return value


def redact_url(text: str) -> str:
    """Hide a password in a database URL such as postgresql://user:pw@host/db."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if "://" not in text or "@" not in text:
        return text
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        return text
    if url.password is None:
        return text
    return url.render_as_string(hide_password=True)
