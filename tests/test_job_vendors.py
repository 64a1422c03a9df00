"""What every job-based vendor must do alike, each against its own fake, driven by the executor's job
lifecycle: a poll that fails once is retried on its own, a 429 waits for its hint, the vendor's
error replies are classified with the vendor's own words, "cleanup": false keeps the job and a
failed deletion is recorded without failing the utterance. Each vendor's own behaviour (its
request fields, words, job failures, SDK quirks) is tested in tests/test_<vendor>.py."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from fakes import Fault
from fakes.fake_assemblyai import FakeAssemblyAI
from fakes.fake_gladia import FakeGladia
from fakes.fake_revai import FakeRevAI
from fakes.fake_soniox import FakeSoniox
from fakes.fake_speechmatics import FakeSpeechmatics
from fakes.job_calls import demo_items, job_provider, run_jobs

from spectragram_bench.providers.assemblyai import AssemblyAIProvider
from spectragram_bench.providers.gladia import GladiaProvider
from spectragram_bench.providers.revai import RevAIProvider
from spectragram_bench.providers.soniox import SonioxProvider
from spectragram_bench.providers.speechmatics import SpeechmaticsProvider


@dataclass(frozen=True)
class Case:
    provider: type
    fake: type
    model: str
    posts: int  # POST requests of one utterance (upload and create, or create alone)
    words: dict[int, str] = field(default_factory=dict)  # the vendor's words in its error reply, by status


CASES = {
    "assemblyai": Case(AssemblyAIProvider, FakeAssemblyAI, "universal-3-pro", 2, {
        402: "Your current account balance is negative", 403: "Forbidden", 400: "Invalid request"}),
    "speechmatics": Case(SpeechmaticsProvider, FakeSpeechmatics, "enhanced", 1, {
        401: "401 Authorization Required (an HTML reply", 403: "Forbidden: Entitlement check failed",
        402: "Payment Required", 400: "Bad Request"}),
    "revai": Case(RevAIProvider, FakeRevAI, "machine", 1, {
        401: "Authorization has been denied for this request", 403: "The client is forbidden to submit that request",
        402: "Insufficient balance", 400: "Your request parameters did not validate"}),
    "gladia": Case(GladiaProvider, FakeGladia, "solaria-1", 2, {
        401: "Invalid or missing x-gladia-key", 403: "Forbidden resource", 402: "Payment Required", 400: "Bad Request"}),
    "soniox": Case(SonioxProvider, FakeSoniox, "stt-async-v4", 2, {
        401: "unauthenticated: Incorrect API key provided", 403: "permission_denied", 402: "payment_required",
        400: "invalid_request"}),
}


@pytest.fixture(params=sorted(CASES))
def vendor(request):
    case = CASES[request.param]
    with case.fake() as server:
        yield case, server


def provider(case: Case, server, **kw):
    return job_provider(case.provider, server, case.model, **kw)


def posts(server) -> int:
    return sum(1 for r in server.requests if r.method == "POST")


def test_a_poll_that_fails_once_is_retried_on_its_own(vendor):
    case, server = vendor
    server.inject_at("poll", Fault.http(503))
    (result,), ex = run_jobs(provider(case, server), demo_items())
    assert result.ok, result.error_text
    assert ex.stats.retries == 1 and result.attempts == 2
    steps = [(e["step"], e.get("status")) for e in result.latency_meta["attempt_log"]]
    assert ("poll", 503) in steps and steps[steps.index(("poll", 503)) + 1] == ("poll", None)
    assert posts(server) == case.posts  # neither the upload nor the job is sent again


def test_429_on_create_waits_for_retry_after(vendor):
    case, server = vendor
    server.inject_at("submit", Fault.http(429, retry_after="0.2"))
    (result,), ex = run_jobs(provider(case, server), demo_items())
    assert result.ok, result.error_text
    assert ex.stats.rate_limited == 1
    entry = next(e for e in result.latency_meta["attempt_log"] if e.get("status") == 429)
    assert entry["retry_after_s"] == 0.2 and entry["step"] == "submit"
    assert posts(server) == case.posts + 1  # the create again, not the upload


@pytest.mark.parametrize("status, kind", [(401, "fatal"), (402, "fatal"), (403, "fatal"), (400, "utterance")])
def test_error_replies_on_create_are_classified_with_the_vendors_words(vendor, status, kind):
    case, server = vendor
    server.inject_at("submit", Fault.http(status))
    (result,), ex = run_jobs(provider(case, server), demo_items())
    assert result.error_kind == kind, result.error_text
    assert f"HTTP {status}" in result.error_text and case.words.get(status, "") in result.error_text, result.error_text
    if kind == "fatal":
        assert ex.stats.fatal_error and str(status) in ex.stats.fatal_error


def test_cleanup_false_keeps_the_job(vendor):
    case, server = vendor
    (result,), _ = run_jobs(provider(case, server, cleanup=False), demo_items())
    assert result.ok and result.latency_meta["cleanup"] == "kept (cleanup: false)"
    assert server.deletions() == [] and not any(j.deleted for j in server.jobs.values())


def test_a_failed_deletion_is_recorded_not_the_utterances_failure(vendor):
    case, server = vendor
    server.inject_at("delete", *[Fault.http(500)] * 3)
    (result,), ex = run_jobs(provider(case, server), demo_items())
    assert result.ok and result.latency_meta["cleanup"].startswith("failed: cleanup: HTTP 500")
    assert ex.stats.cleanup_failed == 1 and server.deletions() == []
