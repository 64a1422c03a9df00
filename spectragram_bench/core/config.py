"""Job configuration: pydantic v2 models, strict (unknown keys rejected), with a JSON schema.

Relative paths in a job file (dataset roots, manifests) are resolved against the folder of
the job file, so a job runs the same from any working directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

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


class ChunkingConfig(Strict):
    """Long-form: recordings longer than a limit are cut at silences into chunks (worker/chunking.py)."""

    max_s: float | None = Field(
        None, gt=5, description="cut recordings longer than this many seconds (also: the provider's own duration/size limit)"
    )


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
    max_reply_bytes: int = Field(
        8 * 2**20, ge=1024, description="largest reply body (or websocket message) read from the provider; "
        "a larger one fails that utterance unread"
    )
    price_per_minute_usd: float | None = Field(None, ge=0, description="overrides the dated default price table")
    job_timeout_s: float = Field(
        1800.0, gt=0, description="job-based providers: the whole job (upload, submit, polls, result) must finish within this"
    )
    poll_interval_s: float | None = Field(
        None, gt=0, description="job-based providers: first wait before polling (grows x1.5 per poll, vendor hints win)"
    )
    cleanup: bool = Field(
        True, description="job-based providers: delete the uploaded audio and the vendor's transcript once the result is read"
    )
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)

    @property
    def display(self) -> str:
        return self.label or f"{self.name}/{self.model}"


class CleanVariant(Strict):
    """The audio as it is on disk."""

    kind: Literal["clean"] = "clean"


def _expand(variant: Strict, field: str) -> list[Strict]:
    """One variant per value when `field` holds a list (e.g. snr_db: [20, 10] -> two variants)."""
    values = getattr(variant, field)
    if not isinstance(values, list):
        return [variant]
    return [variant.model_copy(update={field: v}) for v in values]


class NoiseVariant(Strict):
    """Additive noise at a signal-to-noise ratio in dB (energy of the whole clip over that of the noise).

    A list of SNRs expands into one variant per SNR when the job is loaded. An utterance gets the
    same noise waveform at every SNR (only its gain differs), so WER steps between SNRs are paired.
    """

    kind: Literal["noise"] = "noise"
    snr_db: float | list[float] = Field(description="target SNR in dB, or a list: one variant per SNR")
    noise: Literal["white", "pink", "babble", "folder"] = Field(
        "white", description="white or pink (generated), babble (other utterances of the same dataset), folder (noise_dir files)"
    )
    noise_dir: str | None = Field(None, description="folder of noise recordings (e.g. MUSAN noise/) for noise='folder'")
    talkers: int | None = Field(None, ge=1, le=32, description="babble only: voices mixed (default 4)")
    seed: int = Field(0, description="noise seed; the noise of an utterance depends on seed and utterance id only")

    @model_validator(mode="after")
    def _check(self) -> NoiseVariant:
        snrs = self.snr_db if isinstance(self.snr_db, list) else [self.snr_db]
        if not snrs:
            raise ValueError("snr_db: give at least one SNR")
        if any(not -50 <= s <= 100 for s in snrs):
            raise ValueError(f"snr_db: {snrs} outside -50..100 dB")
        if (self.noise == "folder") != (self.noise_dir is not None):
            raise ValueError("noise_dir is required with noise='folder' and only then")
        if self.talkers is not None and self.noise != "babble":
            raise ValueError("talkers applies to noise='babble' only")
        return self

    def expand(self) -> list[Strict]:
        return _expand(self, "snr_db")


class TelephonyVariant(Strict):
    """A narrowband phone line: band-pass (ITU-T G.712 300-3400 Hz), 8 kHz, G.711 codec round trip."""

    kind: Literal["telephony"] = "telephony"
    codec: Literal["mulaw", "alaw", "none"] = Field("mulaw", description="G.711 companding applied and decoded")
    sample_rate: int = Field(8000, ge=4000, le=48000)
    low_hz: float = Field(300.0, gt=0)
    high_hz: float = Field(3400.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> TelephonyVariant:
        if not self.low_hz < self.high_hz < self.sample_rate / 2:
            raise ValueError(f"need low_hz < high_hz < sample_rate/2, got {self.low_hz}, {self.high_hz}, {self.sample_rate}")
        return self

    def expand(self) -> list[Strict]:
        return [self]


class SpeedVariant(Strict):
    """Speed perturbation (tempo and pitch together, like `sox speed` and Kaldi's 0.9/1.1 recipe)."""

    kind: Literal["speed"] = "speed"
    factor: float | list[float] = Field(description="speed factor (1.1 = 10% faster), or a list: one variant each")

    @model_validator(mode="after")
    def _check(self) -> SpeedVariant:
        factors = self.factor if isinstance(self.factor, list) else [self.factor]
        if not factors or any(not 0.25 <= f <= 4.0 for f in factors):
            raise ValueError(f"factor: {factors} must be one or more values in 0.25..4")
        return self

    def expand(self) -> list[Strict]:
        return _expand(self, "factor")


def _variant_kind(value: Any) -> str | None:
    """The union's tag; a variant without `kind` is the clean one."""
    if isinstance(value, dict):
        return value.get("kind", "clean")
    return getattr(value, "kind", None)


Variant = Annotated[
    Annotated[CleanVariant, Tag("clean")]
    | Annotated[NoiseVariant, Tag("noise")]
    | Annotated[TelephonyVariant, Tag("telephony")]
    | Annotated[SpeedVariant, Tag("speed")],
    Discriminator(
        _variant_kind,
        custom_error_type="variant_kind",
        custom_error_message="kind must be one of 'clean', 'noise', 'telephony', 'speed'",
    ),
]
VARIANT_KINDS = ("clean", "noise", "telephony", "speed")


class DatasetConfig(Strict):
    """One corpus on local disk and the variants to derive from it."""

    name: str = Field(description="registry name of the loader, e.g. 'librispeech'")
    root: str = Field(description="local folder; relative paths are resolved against the job file's folder")
    subsets: list[str] = Field(default_factory=list, description="subsets or splits; empty = all found")
    variants: list[Variant] = Field(default_factory=lambda: [CleanVariant()], min_length=1)
    options: dict[str, Any] = Field(default_factory=dict, description="loader-specific options")
    label: str | None = Field(
        None, min_length=1, max_length=200,
        description="the name reports show for this dataset; tells two roots of one loader apart",
    )

    @property
    def display(self) -> str:
        return self.label or self.name

    @field_validator("variants")
    @classmethod
    def _expand_variants(cls, variants: list[Any]) -> list[Any]:
        """Lists of SNRs or speed factors become one variant each; a variant listed twice is an error."""
        out: list[Any] = []
        seen: set[str] = set()
        for v in variants:
            for one in v.expand() if hasattr(v, "expand") else [v]:
                key = json.dumps(one.model_dump(), sort_keys=True)
                if key in seen:
                    raise ValueError(f"variant {one.model_dump(exclude_none=True)} is listed twice")
                seen.add(key)
                out.append(one)
        return out


class MetricSpec(Strict):
    """One metric of an evaluation, optionally under its own normaliser (stored as `name:normaliser`)."""

    name: str = Field(description="registered metric (evaluations/builtin_metrics.py)")
    normalizer: str | None = Field(None, description="this metric's normaliser instead of the evaluation's")
    normalizer_steps: list[str] | None = None


class EvaluationConfig(Strict):
    normalizer: str = Field("whisper_english", description="registry name of the text normaliser")
    normalizer_steps: list[str] | None = Field(
        None, description="compose the normaliser from these step names instead (see core/normalize.py STEPS)"
    )
    normalizer_by_language: dict[str, str] = Field(
        default_factory=dict,
        description="normaliser per ISO 639-1 language, for speech the `normalizer` is not meant for "
        "(an English-only one: whisper_english, librispeech); default whisper_multilingual",
    )
    bootstrap_iterations: int = Field(1000, ge=0, le=1_000_000)
    bootstrap_seed: int = 0
    metrics: list[str | MetricSpec] | None = Field(
        None, description="the metrics to compute (names or {name, normalizer}); default: the built-in set"
    )
    keywords_file: str | None = Field(
        None, description="one keyword or phrase a line, looked for in every utterance (beside a manifest's `keywords`)"
    )
    formatted_references: str | None = Field(
        None, description="Kaldi-text file `<utt id> <cased, punctuated text>` for formatted WER (else meta text_formatted)"
    )
    failures_as_empty: bool = Field(
        False, description="score a failed prediction as an empty transcript (Kaldi --mode all); its own eval version"
    )


class JobConfig(Strict):
    """A benchmark job: every provider runs over every dataset variant."""

    name: str = "benchmark"
    description: str | None = None
    providers: list[ProviderConfig] = Field(min_length=1)
    datasets: list[DatasetConfig] = Field(min_length=1)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    database_url: str | None = Field(None, description=f"SQLAlchemy URL; else --db, ${DB_URL_ENV}, or ./runs/")
    db_retry_s: float = Field(
        60.0, ge=0, description="how long a run rides out a database outage (refused, reset, locked) before it stops as interrupted",
    )
    max_utt: int | None = Field(None, ge=1, description="utterances per job run")
    max_per_subset: int | None = Field(None, ge=1, description="utterances per dataset subset")
    selection_seed: int = Field(0, description="seed of the deterministic utterance selection")
    reuse_predictions: bool = Field(
        False, description="fill a work item from an ok prediction in the same database made from the same sent audio "
        "(sha256), provider, model, params and adapter version: no request, no cost (worker/reuse.py)",
    )

    @field_validator("datasets")
    @classmethod
    def _no_duplicate_datasets(cls, datasets: list[DatasetConfig]) -> list[DatasetConfig]:
        """The same loader over the same root and subsets twice would run every item twice (two
        roots of one loader are fine; a `label` tells them apart in reports)."""
        for j, b in enumerate(datasets):
            for i, a in enumerate(datasets[:j]):
                same_root = os.path.normpath(a.root) == os.path.normpath(b.root)
                overlap = not a.subsets or not b.subsets or set(a.subsets) & set(b.subsets)
                if a.name == b.name and same_root and overlap:
                    raise ValueError(f"$.datasets[{j}] repeats $.datasets[{i}] ({a.name!r} at {a.root!r}); remove one")
        return datasets

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


def _without_union_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the variant-kind tag pydantic inserts after `variants[i]` in error locations."""
    return tuple(
        p for i, p in enumerate(loc)
        if not (p in VARIANT_KINDS and i >= 2 and loc[i - 2] == "variants" and isinstance(loc[i - 1], int))
    )


def format_validation_error(source: str, exc: ValidationError) -> str:
    """All problems on one line: `source: $.providers[0].concurrency: must be >= 1; ...`."""
    parts = []
    for err in exc.errors():
        loc = _without_union_tags(tuple(err["loc"]))
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
        variants = [
            v.model_copy(update={"noise_dir": _resolve(v.noise_dir, base_dir)}) if getattr(v, "noise_dir", None) else v
            for v in ds.variants
        ]
        options = ds.options
        if isinstance(options.get("alignments"), str) and options["alignments"]:  # a CTM or TextGrid folder
            options = {**options, "alignments": _resolve(options["alignments"], base_dir)}
        datasets.append(ds.model_copy(update={"root": str(root), "variants": variants, "options": options}))
    ev = config.evaluation
    files = {k: _resolve(getattr(ev, k), base_dir) for k in ("keywords_file", "formatted_references") if getattr(ev, k)}
    return config.model_copy(update={"datasets": datasets, "evaluation": ev.model_copy(update=files)})


def _resolve(path: str, base_dir: Path) -> str:
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (base_dir / p).resolve())


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
