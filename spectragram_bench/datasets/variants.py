"""Audio variants derived on the fly from a dataset's audio: additive noise, telephony, speed.

A variant never touches the source file: the executor decodes the clip and `apply_variant`
returns a new in-memory clip (derived on the fly, nothing cached on disk), plus facts to store
with the prediction (latency_sample.meta_json), such as the SNR actually measured in the mixture.

Determinism: everything random is drawn from a generator seeded by (variant seed, noise type,
utterance id), so a rerun, another machine or another --max-utt selection derives the same
audio for an utterance. The SNR is not part of the seed: an utterance hears the same noise
waveform at every SNR, only louder or softer, so WER differences between SNRs are paired.

SNR convention: 10*log10(energy of the clip / energy of the added noise), both over the whole
clip (as torchaudio's add_noise and lhotse's augmentation do), measured on the float32 mixture
after any headroom scaling that keeps it from clipping.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from spectragram_bench.core.audio import SILENT_PEAK, AudioClip, check_audible, load_audio
from spectragram_bench.core.errors import AudioError, DatasetError
from spectragram_bench.core.natural_order import natural_key
from spectragram_bench.core.records import UtteranceRecord, WorkItem

#: A mixture is scaled down to this peak when the added noise would make it clip.
MAX_PEAK = 0.99
DEFAULT_TALKERS = 4
NOISE_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
#: Keys apply_variant reads that only exist at run time (prepare_variant adds them); never stored.
RUNTIME_KEYS = ("_babble_pool", "_noise_files")


def variant_key(variant: dict[str, Any]) -> str:
    """A stable identity for a variant's parameters (the dataset_variant unique key)."""
    stored = {k: v for k, v in variant.items() if k not in RUNTIME_KEYS}
    return hashlib.sha256(json.dumps(stored, sort_keys=True).encode()).hexdigest()[:32]


def variant_label(variant: dict[str, Any]) -> str:
    """A short human label for reports, e.g. `noise white 10 dB`, `telephony mulaw 8 kHz`, `speed x1.1`."""
    kind = variant.get("kind", "clean")
    if kind == "noise":
        label = f"noise {variant.get('noise', 'white')} {variant['snr_db']:g} dB"
        if variant.get("talkers"):
            label += f" talkers={variant['talkers']}"
        if variant.get("noise_dir"):
            label += f" dir={Path(variant['noise_dir']).name}"
        if variant.get("seed"):
            label += f" seed={variant['seed']}"
        return label
    if kind == "telephony":
        label = f"telephony {variant.get('codec', 'mulaw')} {variant.get('sample_rate', 8000) / 1000:g} kHz"
        band = (variant.get("low_hz", 300.0), variant.get("high_hz", 3400.0))
        return label if band == (300.0, 3400.0) else label + f" {band[0]:g}-{band[1]:g} Hz"
    if kind == "speed":
        return f"speed x{variant['factor']:g}"
    rest = ",".join(f"{k}={v}" for k, v in sorted(variant.items()) if k != "kind" and v is not None)
    return f"{kind}({rest})" if rest else kind


def variant_sort_key(variant: dict[str, Any] | None) -> tuple:
    """Clean audio first, then each kind of variant by its label with numbers by value
    (0, 5, 10, 20 dB; never the text order 0, 10, 20, 5)."""
    variant = variant or {}
    return (variant.get("kind", "clean") != "clean", natural_key(variant_label(variant)))


def variant_duration(variant: dict[str, Any], duration_s: float | None) -> float | None:
    """The duration of the derived audio (a speed variant shortens or lengthens it)."""
    if duration_s is not None and variant.get("kind") == "speed":
        return duration_s / float(variant["factor"])
    return duration_s


# -- run-time preparation -------------------------------------------------------------------


def prepare_variant(variant: dict[str, Any], records: Sequence[UtteranceRecord]) -> dict[str, Any]:
    """The variant as the executor applies it: the stored parameters plus run-time resources.

    `records` are all utterances of the dataset (before selection, so the babble an utterance
    hears does not depend on --max-utt). Raises a one-line DatasetError when the variant cannot
    work at all (an empty noise folder, a dataset too small for babble).
    """
    if variant.get("kind") != "noise":
        return variant
    if variant.get("noise") == "babble":
        pool = tuple(
            sorted(
                ((r.external_id, r.audio, r.speaker or "") for r in records if "load_error" not in r.meta),
                key=lambda entry: entry[0],
            )
        )
        if len(pool) < 2:
            raise DatasetError(f"variant {variant_label(variant)}: babble needs at least 2 utterances in the dataset, found {len(pool)}")
        return {**variant, "_babble_pool": pool}
    if variant.get("noise") == "folder":
        return {**variant, "_noise_files": noise_files(variant["noise_dir"])}
    return variant


def noise_files(noise_dir: str) -> tuple[str, ...]:
    """Audio files under `noise_dir` (recursive), in a stable order."""
    root = Path(noise_dir)
    if not root.is_dir():
        raise DatasetError(f"noise_dir {noise_dir!r} is not a folder")
    files = tuple(str(p) for p in sorted(root.rglob("*")) if p.suffix.lower() in NOISE_SUFFIXES and p.is_file())
    if not files:
        raise DatasetError(f"noise_dir {noise_dir!r} holds no audio files ({', '.join(NOISE_SUFFIXES)})")
    return files


# -- applying a variant to one clip ---------------------------------------------------------


def apply_variant(clip: AudioClip, variant: dict[str, Any], item: WorkItem) -> tuple[AudioClip, dict[str, Any]]:
    """The clip as the variant hears it, plus facts to store (e.g. the measured SNR).

    Raises AudioError (one utterance's recorded error) for a silent clip or unusable noise.
    The clean variant leaves a file's clip undecoded (the plan checked it for silence when it
    probed the file: worker/probes.py), so an adapter that uploads the file never decodes it.
    """
    kind = variant.get("kind", "clean")
    if kind == "clean" and not clip.decoded:
        return clip, {}
    check_audible(clip, item.audio.label)
    if kind == "clean":
        return clip, {}
    if kind == "noise":
        return add_noise(clip, variant, item)
    if kind == "telephony":
        return telephony(clip, variant)
    if kind == "speed":
        return speed(clip, float(variant["factor"]))
    raise ValueError(f"unknown variant kind {kind!r}")


def rng_for(variant: dict[str, Any], external_id: str) -> np.random.Generator:
    """A generator that depends on the variant's seed, its noise type and the utterance only."""
    material = f"{variant.get('seed', 0)}\x00{variant.get('noise', '')}\x00{external_id}".encode()
    return np.random.default_rng(int.from_bytes(hashlib.sha256(material).digest()[:16], "big"))


def add_noise(clip: AudioClip, variant: dict[str, Any], item: WorkItem) -> tuple[AudioClip, dict[str, Any]]:
    rng = rng_for(variant, item.external_id)
    n = len(clip.samples)
    facts: dict[str, Any] = {"noise": variant.get("noise", "white")}
    kind = facts["noise"]
    if kind == "white":
        noise = rng.standard_normal(n)
    elif kind == "pink":
        noise = pink_noise(n, rng)
    elif kind == "babble":
        noise, facts["babble_sources"] = babble(variant, item, clip.sample_rate, n, rng)
    elif kind == "folder":
        noise, facts["noise_file"], facts["noise_offset_s"] = folder_noise(variant, clip.sample_rate, n, rng)
    else:
        raise ValueError(f"unknown noise {kind!r}")
    mixed, mix_facts = mix_at_snr(clip.samples, noise, float(variant["snr_db"]))
    return AudioClip(mixed, clip.sample_rate, None), {**facts, **mix_facts}


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> tuple[np.ndarray, dict[str, Any]]:
    """speech + noise scaled to `snr_db`; scaled down as a whole if it would clip. Returns the SNR measured."""
    s = speech.astype(np.float64)
    p_speech = float(np.mean(s**2))
    p_noise = float(np.mean(noise**2))
    if p_noise == 0.0:
        raise AudioError("noise is silent: cannot set an SNR")
    scaled = noise * np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))
    mix = s + scaled
    peak = float(np.max(np.abs(mix)))
    headroom = 1.0 if peak <= MAX_PEAK else MAX_PEAK / peak
    out = (mix * headroom).astype(np.float32)
    s_in_mix = s * headroom
    measured = 10 * np.log10(np.sum(s_in_mix**2) / np.sum((out.astype(np.float64) - s_in_mix) ** 2))
    return out, {
        "snr_db_target": snr_db,
        "snr_db_measured": round(float(measured), 4) + 0.0,  # no "-0.0"
        "mix_gain_db": round(20 * float(np.log10(headroom)), 6),
    }


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f (pink) noise: white noise shaped by 1/sqrt(f) in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0
    spectrum /= np.sqrt(f)
    spectrum[0] = 0.0  # no DC offset
    return np.fft.irfft(spectrum, n)


def _fit(x: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """`n` samples of `x` from a random start, looping `x` when it is shorter."""
    start = int(rng.integers(len(x)))
    return np.resize(np.roll(x, -start), n), start


def _unit_rms(x: np.ndarray) -> np.ndarray | None:
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    return None if rms < SILENT_PEAK else x / rms


def babble(variant: dict[str, Any], item: WorkItem, sample_rate: int, n: int, rng: np.random.Generator):
    """Several other utterances of the dataset at equal level, summed: a crowd of talkers.

    Other speakers are preferred; an utterance that cannot be loaded is skipped (it is that
    utterance's own recorded error). Returns the noise and the ids of the talkers used.
    """
    pool = variant.get("_babble_pool")
    if not pool:
        raise ValueError("babble variant was not prepared (prepare_variant adds the dataset's utterances)")
    talkers = variant.get("talkers") or DEFAULT_TALKERS
    order = rng.permutation(len(pool))[: 64 * talkers]
    own_speaker = next((spk for ext, _, spk in pool if ext == item.external_id), "")
    others = [i for i in order if pool[i][0] != item.external_id and not (own_speaker and pool[i][2] == own_speaker)]
    same = [i for i in order if pool[i][0] != item.external_id and own_speaker and pool[i][2] == own_speaker]
    total = np.zeros(n)
    used: list[str] = []
    for i in others + same:
        ext, source, _ = pool[i]
        try:
            voice = source.load().resampled(sample_rate).samples
        except AudioError:
            continue
        voice = _unit_rms(voice)
        if voice is None:
            continue
        total += _fit(voice, n, rng)[0]
        used.append(ext)
        if len(used) == talkers:
            break
    if not used:
        raise AudioError("babble: no other utterance of the dataset could be loaded")
    return total, used


@lru_cache(maxsize=16)
def _noise_audio(path: str, sample_rate: int) -> np.ndarray:
    return load_audio(path).resampled(sample_rate).samples


def folder_noise(variant: dict[str, Any], sample_rate: int, n: int, rng: np.random.Generator):
    """A random stretch of a random file of the noise folder, resampled to the clip's rate."""
    files = variant.get("_noise_files") or noise_files(variant["noise_dir"])
    path = files[int(rng.integers(len(files)))]
    try:
        noise = _noise_audio(path, sample_rate)
    except AudioError as exc:
        raise AudioError(f"noise file unusable: {exc}") from None
    fitted, start = _fit(noise, n, rng)
    rel = Path(path).relative_to(variant["noise_dir"]).as_posix()
    return fitted, rel, round(start / sample_rate, 4)


@lru_cache(maxsize=8)
def _band_pass(low_hz: float, high_hz: float, sample_rate: int):
    from scipy.signal import butter

    return butter(4, [low_hz, high_hz], btype="bandpass", fs=sample_rate, output="sos")


def telephony(clip: AudioClip, variant: dict[str, Any]) -> tuple[AudioClip, dict[str, Any]]:
    """Resample to the line rate, band-pass, then encode and decode with G.711 (libsndfile's codec)."""
    from scipy.signal import sosfilt

    rate = int(variant.get("sample_rate", 8000))
    low, high = float(variant.get("low_hz", 300.0)), float(variant.get("high_hz", 3400.0))
    codec = variant.get("codec", "mulaw")
    narrow = clip.resampled(rate).samples
    filtered = np.clip(sosfilt(_band_pass(low, high, rate), narrow), -1.0, 1.0).astype(np.float32)
    if codec != "none":
        buf = io.BytesIO()
        sf.write(buf, filtered, rate, format="WAV", subtype={"mulaw": "ULAW", "alaw": "ALAW"}[codec])
        buf.seek(0)
        filtered, _ = sf.read(buf, dtype="float32")
    return AudioClip(np.ascontiguousarray(filtered, dtype=np.float32), rate, None), {
        "sample_rate": rate,
        "codec": codec,
        "band_hz": [low, high],
    }


def speed(clip: AudioClip, factor: float) -> tuple[AudioClip, dict[str, Any]]:
    """Play `factor` times faster (pitch moves too): the samples read as if recorded at rate*factor."""
    out = soxr.resample(clip.samples, clip.sample_rate * factor, clip.sample_rate, quality="HQ")
    return AudioClip(np.asarray(out, dtype=np.float32), clip.sample_rate, None), {"speed_factor": factor}
