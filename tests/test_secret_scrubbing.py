"""No key, bearer token or Authorization value reaches the database, a log or a report, whatever
the reply's status or content type: a fake OpenAI server echoes them in every place a reply
has (a non-JSON 200 body, an error body, headers, usage JSON)."""

from __future__ import annotations

import json
import logging

from conftest import DEMO_ROOT, run_cli
from fakes import Fault
from fakes.harness import files_containing, rows, write_job

from spectragram_bench.core.records import PredictionResult
from spectragram_bench.providers.base import ErrorKind, ProviderError

OTHER_TOKEN = "sk-other-9876543210zyxwvutsr"  # a token the harness never saw (another account's)


def test_every_place_a_reply_can_carry_a_key_is_scrubbed(fake_openai, tmp_path):
    key = fake_openai.api_key
    fake_openai.inject(
        # 200 whose body is not JSON (an HTML page quoting the request): quoted in the error
        Fault(status=200, body=f"<p>Bearer {key}</p><p>Authorization: Bearer {OTHER_TOKEN}</p>"),
        # an error body with the raw key and another account's token
        Fault.http(400, message=f"key {key} rejected; Authorization: Bearer {OTHER_TOKEN}"),
        # usage JSON echoing both
        Fault(status=200, body={"text": "hello there", "usage": {
            "type": "duration", "seconds": 1, "note": f"billed to Bearer {key}", "auth": f"x-api-key: {OTHER_TOKEN}"}}),
        # headers the adapter stores (request id, model revision)
        Fault(status=200, body={"text": "hi"}, headers={"x-request-id": f"Bearer {OTHER_TOKEN}", "openai-model": f"whisper-1 {key}"}),
    )
    job = write_job(tmp_path / "job.json", [
        {"name": "openai", "model": "whisper-1", "base_url": fake_openai.base_url, "concurrency": 1, "max_attempts": 1},
    ], DEMO_ROOT, max_utt=6)
    db = tmp_path / "bench.db"
    result = run_cli("--config", str(job), "--db", f"sqlite:///{db}", "--quiet", env={"OPENAI_API_KEY": key})
    assert result.returncode in (0, 1), result.stderr
    assert fake_openai.pending_faults == 0

    preds = rows(db, "SELECT status, hyp_text, error_text, usage_json FROM prediction ORDER BY prediction_id")
    assert len(preds) == 6
    errors = [p["error_text"] for p in preds if p["status"] != "ok"]
    assert len(errors) == 2
    assert any("malformed JSON" in e and "Bearer ***" in e for e in errors)  # the body is still quoted, key masked
    assert any("***" in e and "rejected" in e for e in errors)
    usages = [json.loads(p["usage_json"]) for p in preds if p["usage_json"] and "note" in p["usage_json"]]
    assert usages and usages[0]["note"] == "billed to Bearer ***" and usages[0]["auth"] == "x-api-key: ***"
    metas = [r["meta_json"] for r in rows(db, "SELECT meta_json FROM latency_sample")]
    assert any("Bearer ***" in m for m in metas)

    assert list(tmp_path.glob("*report*.html")), result.stdout  # the report was written and scanned too
    for secret in (key, OTHER_TOKEN):
        assert files_containing(tmp_path, secret) == []  # database, WAL, report
        assert secret not in result.stdout + result.stderr  # logs


def test_provider_errors_and_log_lines_are_scrubbed_at_the_source():
    from spectragram_bench.core.scrubbing import ScrubbingFilter, register_secret

    register_secret("sk-registered-ABCDEF123456")
    err = ProviderError(ErrorKind.RETRYABLE, "starts '<html>sk-registered-ABCDEF123456 Bearer abc.def.123456'")
    assert "sk-registered" not in str(err) and "abc.def.123456" not in str(err)
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed with %s", ("token=sk-registered-ABCDEF123456",), None)
    ScrubbingFilter().filter(record)
    assert "sk-registered" not in record.getMessage()
    try:
        raise RuntimeError("Authorization: Bearer zz-9999999999")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    ScrubbingFilter().filter(record)
    assert "zz-9999999999" not in record.exc_text and "Bearer ***" in record.exc_text


def test_stored_results_keep_transcripts_but_lose_keys():
    from spectragram_bench.core.scrubbing import register_secret, scrub_text
    from spectragram_bench.core.storable import storable_result

    register_secret("sk-registered-XYZ987654321")
    r = storable_result(PredictionResult(
        1, 1, "a token of thanks sk-registered-XYZ987654321", words=[{"word": "sk-registered-XYZ987654321"}],
        latency_meta={"request_id": "Token abcdef123456", "attempt_log": [{"ms": 1.0}]},
    ))
    assert r.hyp_text == "a token of thanks ***"  # speech is not rewritten, only the known key
    assert r.words == [{"word": "***"}]
    assert r.latency_meta["request_id"] == "Token ***"
    assert scrub_text("Authorization: Bearer YOUR_KEY") == "Authorization: Bearer YOUR_KEY"  # help texts stay
