"""Languages: from the dataset to the provider's own parameter, the normaliser and the headline metric."""

from __future__ import annotations

import json
from dataclasses import replace

from conftest import run_cli
from fixtures.speech_corpora import make_fleurs
from sqlalchemy import create_engine, text
from test_deepgram import provider as deepgram_provider
from test_deepgram import transcribe
from test_openai import provider as openai_provider

from spectragram_bench.core.language import headline_metric, normalizer_for
from spectragram_bench.core.normalize import BASIC, WHISPER_ENGLISH, WHISPER_MULTILINGUAL
from spectragram_bench.core.records import WorkItem


def _send(p, language):
    return transcribe(p, language=language)  # any adapter: one transcribe() call, then aclose()


def test_providers_receive_the_language_under_their_own_name(fake_deepgram, fake_openai):
    _send(deepgram_provider(fake_deepgram), "fr")
    _send(deepgram_provider(fake_deepgram, params={"language": "multi"}), "fr")  # the job's params win
    _send(deepgram_provider(fake_deepgram), None)
    queries = [dict(r.query) for r in fake_deepgram.requests]
    assert [q.get("language") for q in queries] == ["fr", "multi", None]
    _send(openai_provider(fake_openai), "fr")
    _send(openai_provider(fake_openai), None)
    assert [r.fields.get("language") for r in fake_openai.requests] == [["fr"], None]


def test_normaliser_and_headline_metric_per_language():
    assert normalizer_for(WHISPER_ENGLISH, "en") is WHISPER_ENGLISH
    assert normalizer_for(WHISPER_ENGLISH, None) is WHISPER_ENGLISH
    assert normalizer_for(WHISPER_ENGLISH, "fr") is WHISPER_MULTILINGUAL
    assert normalizer_for(BASIC, "fr") is BASIC  # a language-neutral choice of the job stays
    assert normalizer_for(WHISPER_ENGLISH, "fr", {"fr": "basic"}) is BASIC
    # the leaderboard's multilingual normaliser keeps accents; the English one would turn numbers and words around
    assert WHISPER_MULTILINGUAL("C'est l'été à Genève, [rires] 2 000 €!") == "c est l été à genève 2 000"  # as the leaderboard: apostrophes are punctuation
    assert WHISPER_MULTILINGUAL("你好，世界。") == "你好 世界"
    assert [headline_metric(x) for x in ("zh", "ja", "th", "fr", None)] == ["cer", "cer", "cer", "wer", "wer"]


def test_french_fleurs_is_scored_with_the_multilingual_normaliser(tmp_path):
    root = make_fleurs(tmp_path)
    zh = make_fleurs(tmp_path / "z", "cmn_hans_cn", [("3", "9.wav", "你好，世界。", "你好世界", "", "male")])
    job = tmp_path / "job.json"
    job.write_text(json.dumps({
        "name": "fr", "providers": [{"name": "mock", "params": {"substitution_rate": 0.3, "seed": 1}}],
        "datasets": [{"name": "fleurs", "root": str(root)}, {"name": "fleurs", "root": str(zh), "options": {"text": "raw"}}],
        "evaluation": {"bootstrap_iterations": 10},  # the default normaliser: whisper_english
    }))
    db = tmp_path / "fr.db"
    out = tmp_path / "report.html"
    proc = run_cli("--config", str(job), "--db", f"sqlite:///{db}", "--report", str(out))
    assert proc.returncode == 0, proc.stderr
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as c:
        version = c.execute(text("select eval_version from job_run")).scalar_one()
        rows = c.execute(text(
            "select d.source, m.normalizer, m.extra_json, h.value from metric_summary m join dataset d using (dataset_id) "
            "join metric_summary h on h.job_run_id = m.job_run_id and h.dataset_id = m.dataset_id and h.metric = 'headline_cer' "
            "where m.metric = 'wer'"
        )).all()
    engine.dispose()
    assert version == "v2+whisper_english@1+whisper_multilingual@1"
    by_lang = {json.loads(extra)["language"]: (norm, headline) for _src, norm, extra, headline in rows}
    assert by_lang == {"fr": ("whisper_multilingual@1", 0.0), "zh": ("whisper_multilingual@1", 1.0)}
    assert "CER is the headline metric of fleurs/test" in out.read_text()


def test_language_survives_the_database(tmp_path):
    item = WorkItem(1, 1, "x", "/a.wav", 1.0, language="fr")
    assert replace(item, language=None).language is None and item.language == "fr"
