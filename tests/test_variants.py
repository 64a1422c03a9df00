"""Variants: config union and expansion, SNR accuracy, determinism, babble, noise folders,
telephony, speed, and the same seeded selection across runs and variants."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fixtures.corpora import make_librispeech, speechlike, write_audio
from fixtures.runs import run_job, stored

from spectragram_bench.core.audio import AudioClip, load_audio
from spectragram_bench.core.config import load_config, parse_config
from spectragram_bench.core.errors import AudioError, ConfigError, DatasetError
from spectragram_bench.core.records import UtteranceRecord, WorkItem
from spectragram_bench.datasets.variants import (
    apply_variant,
    prepare_variant,
    variant_duration,
    variant_key,
    variant_label,
)

SR = 16000


def item(external_id: str = "u1", path: str = "/nowhere.wav") -> WorkItem:
    return WorkItem(job_run_id=1, utt_id=1, external_id=external_id, audio_path=path, duration_s=None)


def clip(seed: int = 0, seconds: float = 2.0, level: float = 0.3) -> AudioClip:
    return AudioClip(speechlike(seconds, SR, seed, level=level), SR)


def noise(snr, kind="white", **kw) -> dict:
    return {"kind": "noise", "snr_db": float(snr), "noise": kind, "noise_dir": None, "talkers": None, "seed": 0, **kw}


def measured_snr(clean: AudioClip, out: AudioClip, facts: dict) -> float:
    """The SNR recomputed here from the output: speech scaled by the mixture gain vs the rest."""
    s = clean.samples.astype(np.float64) * 10 ** (facts["mix_gain_db"] / 20)
    n = out.samples.astype(np.float64) - s
    return 10 * np.log10(np.sum(s**2) / np.sum(n**2))


# -- config ------------------------------------------------------------------------------------


def _cfg(variants, **ds):
    return parse_config({"providers": [{"name": "mock"}], "datasets": [{"name": "x", "root": "/tmp", "variants": variants, **ds}]})


def test_variant_union_and_expansion():
    cfg = _cfg([{}, {"kind": "noise", "snr_db": [20, 10, 0]}, {"kind": "telephony", "codec": "alaw"},
                {"kind": "speed", "factor": [0.9, 1.1]}, {"kind": "noise", "noise": "babble", "snr_db": 5, "talkers": 3}])
    dumped = [v.model_dump() for v in cfg.datasets[0].variants]
    assert [variant_label(v) for v in dumped] == [
        "clean", "noise white 20 dB", "noise white 10 dB", "noise white 0 dB", "telephony alaw 8 kHz",
        "speed x0.9", "speed x1.1", "noise babble 5 dB talkers=3",
    ]
    assert dumped[1] == {"kind": "noise", "snr_db": 20.0, "noise": "white", "noise_dir": None, "talkers": None, "seed": 0}
    assert len({variant_key(v) for v in dumped}) == len(dumped)


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ([], r"\$.datasets\[0\].variants: List should have at least 1 item"),
        ([{"kind": "reverb"}], r"\$.datasets\[0\].variants\[0\]: kind must be one of 'clean', 'noise', 'telephony', 'speed'"),
        ([{"kind": "noise"}], r"\$.datasets\[0\].variants\[0\].snr_db: Field required"),
        ([{"kind": "noise", "snr_db": 5, "colour": "red"}], r"\$.datasets\[0\].variants\[0\].colour: unknown key"),
        ([{"kind": "noise", "snr_db": 5, "noise": "folder"}], r"variants\[0\]: Value error, noise_dir is required"),
        ([{"kind": "noise", "snr_db": 5, "talkers": 2}], r"talkers applies to noise='babble' only"),
        ([{"kind": "noise", "snr_db": [10, 10]}], r"variants: Value error, variant .* is listed twice"),
        ([{"kind": "noise", "snr_db": 5}, {"kind": "noise", "snr_db": [5, 0]}], r"is listed twice"),
        ([{"kind": "speed", "factor": 0}], r"factor: \[0.0\] must be one or more values in 0.25..4"),
        ([{"kind": "telephony", "high_hz": 4000}], r"need low_hz < high_hz < sample_rate/2"),
    ],
)
def test_bad_variants_are_one_line_config_errors(variants, message):
    with pytest.raises(ConfigError, match=message) as exc:
        _cfg(variants)
    assert "\n" not in str(exc.value)


def test_noise_dir_is_resolved_against_the_job_file(tmp_path):
    (tmp_path / "jobs").mkdir()
    job = tmp_path / "jobs" / "j.json"
    job.write_text(json.dumps({"providers": [{"name": "mock"}], "datasets": [
        {"name": "x", "root": "../data", "variants": [{"kind": "noise", "noise": "folder", "noise_dir": "../musan", "snr_db": 5}]}]}))
    v = load_config(job).datasets[0].variants[0]
    assert v.noise_dir == str(tmp_path / "musan")


# -- SNR and determinism -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["white", "pink"])
@pytest.mark.parametrize("snr", [30, 20, 10, 5, 0, -5])
def test_generated_noise_hits_the_snr_within_a_tenth_of_a_db(kind, snr):
    clean = clip(seed=snr + 10)
    out, facts = apply_variant(clean, noise(snr, kind), item())
    assert out.sample_rate == SR and len(out.samples) == len(clean.samples) and out.samples.dtype == np.float32
    assert out.source_path is None
    assert abs(measured_snr(clean, out, facts) - snr) < 0.1
    assert abs(facts["snr_db_measured"] - snr) < 0.1
    assert facts["snr_db_target"] == snr
    assert np.max(np.abs(out.samples)) <= 1.0


def test_a_loud_clip_is_scaled_down_not_clipped_and_keeps_its_snr():
    clean = clip(level=0.98)
    out, facts = apply_variant(clean, noise(-5), item())
    assert facts["mix_gain_db"] < -3
    assert np.max(np.abs(out.samples)) <= 0.99 + 1e-6
    assert abs(measured_snr(clean, out, facts) - (-5)) < 0.1


def test_noise_is_deterministic_per_seed_and_utterance_and_paired_across_snrs():
    clean = clip()
    a, _ = apply_variant(clean, noise(10), item("u1"))
    b, _ = apply_variant(clean, noise(10), item("u1"))
    assert np.array_equal(a.samples, b.samples)
    other_utt, _ = apply_variant(clean, noise(10), item("u2"))
    other_seed, _ = apply_variant(clean, noise(10, seed=1), item("u1"))
    assert not np.allclose(a.samples, other_utt.samples) and not np.allclose(a.samples, other_seed.samples)
    # the same waveform at another SNR, 10 dB louder: (mix - speech) scales by sqrt(10)
    c, facts = apply_variant(clean, noise(0), item("u1"))
    n10 = a.samples.astype(np.float64) - clean.samples
    n0 = c.samples.astype(np.float64) - clean.samples * 10 ** (facts["mix_gain_db"] / 20)
    ratio = n0 / 10 ** (facts["mix_gain_db"] / 20)
    assert np.corrcoef(n10, ratio)[0, 1] > 0.9999


def test_source_file_is_never_modified(tmp_path):
    path = write_audio(tmp_path / "a.flac", 1.0, seed=3)
    before = path.read_bytes()
    loaded = load_audio(str(path))
    for v in (noise(0), {"kind": "telephony"}, {"kind": "speed", "factor": 1.2}):
        out, _ = apply_variant(loaded, v, item(path=str(path)))
        assert out.source_path is None  # a cloud adapter must upload the derived audio, not the file
    assert path.read_bytes() == before


def test_silent_audio_is_an_utterance_error():
    silent = AudioClip(np.zeros(SR, dtype=np.float32), SR)
    for v in ({"kind": "clean"}, noise(10)):
        with pytest.raises(AudioError, match=r"audio is silent \(peak -240 dBFS\): /nowhere.wav"):
            apply_variant(silent, v, item())


# -- babble and noise folders ------------------------------------------------------------------


def _pool(tmp_path, rates=(16000, 8000, 44100, 22050)) -> list[UtteranceRecord]:
    recs = []
    for i, rate in enumerate(rates):
        p = write_audio(tmp_path / f"p{i}.wav", 1.0 + 0.3 * i, rate, seed=100 + i)
        recs.append(UtteranceRecord(f"p{i}", str(p), "x", "s", speaker=f"spk{i % 2}"))
    recs.append(UtteranceRecord("gone", str(tmp_path / "gone.wav"), "x", "s", speaker="spk9"))
    recs.append(UtteranceRecord("broken", str(tmp_path / "p0.wav"), "", "s", meta={"load_error": "empty"}))
    return recs


def test_babble_from_other_utterances_at_any_rate_hits_the_snr(tmp_path):
    recs = _pool(tmp_path)
    v = prepare_variant(noise(5, "babble", talkers=3), recs)
    assert [p[0] for p in v["_babble_pool"]] == ["gone", "p0", "p1", "p2", "p3"]  # load errors left out
    assert variant_key(v) == variant_key(noise(5, "babble", talkers=3))  # run-time keys never change identity
    clean = load_audio(recs[0].audio_path)
    out, facts = apply_variant(clean, v, item("p0", recs[0].audio_path))
    sources = facts["babble_sources"]
    assert "p0" not in sources and "gone" not in sources
    # other speakers first (p1, p3: spk1; "gone" cannot be loaded), then p0's own speaker (p2)
    assert set(sources[:2]) == {"p1", "p3"} and sources[2:] == ["p2"]
    assert abs(measured_snr(clean, out, facts) - 5) < 0.1
    again, facts2 = apply_variant(clean, v, item("p0", recs[0].audio_path))
    assert facts2 == facts and np.array_equal(out.samples, again.samples)


def test_babble_needs_two_usable_utterances():
    with pytest.raises(DatasetError, match="babble needs at least 2 utterances in the dataset, found 1"):
        prepare_variant(noise(5, "babble"), [UtteranceRecord("a", "/a.wav", "x", "s")])


def test_noise_folder_files_at_other_rates_and_formats(tmp_path):
    musan = tmp_path / "musan" / "noise"
    write_audio(musan / "free-sound" / "n1.wav", 3.0, 8000, seed=7)
    write_audio(musan / "sound-bible" / "n2.flac", 0.5, 44100, seed=8)  # shorter than the clip: looped
    (musan / "README").parent.mkdir(parents=True, exist_ok=True)
    (musan / "README").write_text("not audio")
    v = prepare_variant(noise(0, "folder", noise_dir=str(tmp_path / "musan")), [])
    assert [f.rsplit("/", 1)[1] for f in v["_noise_files"]] == ["n1.wav", "n2.flac"]
    clean = clip(seconds=1.5)
    files = set()
    for utt in ("a", "b", "c", "d", "e", "f"):
        out, facts = apply_variant(clean, v, item(utt))
        assert abs(measured_snr(clean, out, facts) - 0) < 0.1
        files.add(facts["noise_file"])
        assert facts["noise_offset_s"] >= 0
    assert files == {"noise/free-sound/n1.wav", "noise/sound-bible/n2.flac"}


def test_an_empty_noise_folder_is_fatal(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no audio files"):
        prepare_variant(noise(5, "folder", noise_dir=str(tmp_path / "empty")), [])
    with pytest.raises(DatasetError, match="is not a folder"):
        prepare_variant(noise(5, "folder", noise_dir=str(tmp_path / "absent")), [])


# -- telephony and speed -----------------------------------------------------------------------


def _band_energy(x: np.ndarray, rate: int, lo: float, hi: float) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / rate)
    return float(spectrum[(f >= lo) & (f < hi)].sum())


def test_telephony_is_8khz_band_limited_and_mu_law_companded():
    rng = np.random.default_rng(0)
    wide = AudioClip((0.1 * rng.standard_normal(SR * 2)).astype(np.float32), SR)
    out, facts = apply_variant(wide, {"kind": "telephony"}, item())
    assert facts == {"sample_rate": 8000, "codec": "mulaw", "band_hz": [300.0, 3400.0]}
    assert out.sample_rate == 8000 and out.duration_s == pytest.approx(2.0, abs=1e-3)
    x = out.samples.astype(np.float64)
    passband = _band_energy(x, 8000, 500, 3000) / 2500
    assert _band_energy(x, 8000, 0, 100) / 100 < passband / 100  # >20 dB down below the band
    assert _band_energy(x, 8000, 3800, 4000) / 200 < passband / 100  # and above it
    assert len(np.unique(out.samples)) <= 256  # 8-bit G.711 code points
    linear, _ = apply_variant(wide, {"kind": "telephony", "codec": "none"}, item())
    assert len(np.unique(linear.samples)) > 1000


def test_speed_perturbation_changes_duration_and_pitch():
    t = np.arange(SR) / SR
    tone = AudioClip((0.5 * np.sin(2 * np.pi * 500 * t)).astype(np.float32), SR)
    out, facts = apply_variant(tone, {"kind": "speed", "factor": 1.25}, item())
    assert facts == {"speed_factor": 1.25}
    assert len(out.samples) == pytest.approx(SR / 1.25, abs=2)
    spectrum = np.abs(np.fft.rfft(out.samples))
    assert np.fft.rfftfreq(len(out.samples), 1 / SR)[np.argmax(spectrum)] == pytest.approx(625, abs=3)
    assert variant_duration({"kind": "speed", "factor": 1.25}, 2.0) == 1.6
    assert variant_duration({"kind": "noise", "snr_db": 5.0}, 2.0) == 2.0


# -- end to end: selection and variants are the same on every run --------------------------------


def test_selection_and_variant_audio_are_identical_across_runs(tmp_path):
    utts = {"test-clean": [(f"11-100-{i:04d}", f"WORD {i}") for i in range(6)] + [(f"12-100-{i:04d}", "X Y") for i in range(6)]}
    root = make_librispeech(tmp_path, utts)
    ds = [{"name": "librispeech", "root": str(root), "variants": [
        {"kind": "clean"}, {"kind": "noise", "noise": "babble", "snr_db": [10, 0]}, {"kind": "speed", "factor": 0.9}]}]
    runs = []
    for name in ("first", "second"):
        proc, db = run_job(tmp_path, ds, "--max-utt", "5", name=name)
        assert proc.returncode == 0, proc.stderr
        runs.append(stored(db))
    first, second = runs
    chosen = {r.external_id for r in first}
    assert len(chosen) == 5
    for label in ("clean", "noise babble 10 dB", "noise babble 0 dB", "speed x0.9"):
        assert {r.external_id for r in first if variant_label(r.variant) == label} == chosen  # paired variants
    facts = lambda rows: [(r.external_id, variant_label(r.variant), {k: v for k, v in r.facts.items() if k not in ("attempts", "attempt_log")}) for r in rows]  # noqa: E731
    assert facts(first) == facts(second)
    babble = [r for r in first if r.variant.get("noise") == "babble"]
    assert all(abs(r.facts["snr_db_measured"] - r.variant["snr_db"]) < 0.1 for r in babble)
    assert all(r.external_id not in r.facts["babble_sources"] for r in babble)
    speed = {r.external_id: r for r in first if r.variant["kind"] == "speed"}
    clean = {r.external_id: r for r in first if r.variant["kind"] == "clean"}
    for utt in chosen:
        assert speed[utt].duration_s == pytest.approx(clean[utt].duration_s / 0.9)
        assert speed[utt].facts["audio_s"] == pytest.approx(speed[utt].duration_s, abs=1e-3)
    # a larger selection keeps the smaller one, and the babble each utterance hears is unchanged
    proc, db = run_job(tmp_path, ds, "--max-utt", "8", name="third")
    third = stored(db)
    assert chosen < {r.external_id for r in third}
    assert [f for f in facts(third) if f[0] in chosen] == facts(first)



def test_max_per_subset_picks_the_same_utterances_on_every_run_and_variant(tmp_path):
    root = make_librispeech(tmp_path)
    ds = [{"name": "librispeech", "root": str(root), "variants": [{"kind": "clean"}, {"kind": "noise", "snr_db": 5}]}]
    picks = []
    for name in ("a", "b"):
        proc, db = run_job(tmp_path, ds, "--max-per-subset", "1", name=name)
        assert proc.returncode == 0, proc.stderr
        rows = stored(db)
        by_variant = {label: sorted((r.split, r.external_id) for r in rows if variant_label(r.variant) == label)
                      for label in ("clean", "noise white 5 dB")}
        assert by_variant["clean"] == by_variant["noise white 5 dB"]
        assert [split for split, _ in by_variant["clean"]] == ["dev-other", "test-clean", "train-clean-100"]
        picks.append(by_variant["clean"])
    assert picks[0] == picks[1]
