"""The vendors' official Python SDKs pointed at our fakes (their base-URL override), each
transcribing one demo file and deleting the job: what the fake answers is what the real client
expects, so the fakes our adapters are tested against speak the real protocol. Each test skips
when its SDK is not installed (pip install assemblyai speechmatics-batch rev_ai gladiaio-sdk soniox)."""

from __future__ import annotations

import asyncio
import time

import pytest
from fakes.job_calls import FLACS

AUDIO = FLACS[0]


def sentence(server) -> str:
    return server.default_text[:1].upper() + server.default_text[1:] + "."


def test_assemblyai_sdk_against_the_fake(fake_assemblyai):
    aai = pytest.importorskip("assemblyai")
    saved = (aai.settings.api_key, aai.settings.base_url, aai.settings.polling_interval)
    aai.settings.api_key, aai.settings.base_url, aai.settings.polling_interval = (
        fake_assemblyai.api_key, fake_assemblyai.base_url, 0.01)
    try:
        transcript = aai.Transcriber().transcribe(str(AUDIO), config=aai.TranscriptionConfig(
            speech_models=["universal-3-pro"], language_code="en", speaker_labels=True))
        assert transcript.status == aai.TranscriptStatus.completed, transcript.error
        assert transcript.text == sentence(fake_assemblyai)
        assert [w.text for w in transcript.words] == fake_assemblyai.default_text.split()
        aai.Transcript.delete_by_id(transcript.id)
    finally:
        aai.settings.api_key, aai.settings.base_url, aai.settings.polling_interval = saved
    assert fake_assemblyai.deletions() == [f"/v2/transcript/{transcript.id}"]


def test_speechmatics_batch_sdk_against_the_fake(fake_speechmatics):
    batch = pytest.importorskip("speechmatics.batch")

    async def go():
        async with batch.AsyncClient(api_key=fake_speechmatics.api_key, url=f"{fake_speechmatics.base_url}/v2") as client:
            transcript = await client.transcribe(
                str(AUDIO), transcription_config=batch.TranscriptionConfig(language="en", operating_point="enhanced"),
                polling_interval=0.05, min_polling_interval=0.01)
            await client.delete_job(transcript.job.id)
            return transcript

    transcript = asyncio.run(go())
    assert transcript.transcript_text.strip() == fake_speechmatics.default_text + "."
    assert fake_speechmatics.deletions() == [f"/v2/jobs/{transcript.job.id}"]


def test_revai_sdk_against_the_fake(fake_revai):
    apiclient = pytest.importorskip("rev_ai.apiclient")
    from rev_ai.models import JobStatus

    client = apiclient.RevAiAPIClient(fake_revai.api_key, url=fake_revai.base_url)
    job = client.submit_job_local_file(str(AUDIO), language="en")
    deadline = time.monotonic() + 10
    while client.get_job_details(job.id).status == JobStatus.IN_PROGRESS and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.get_job_details(job.id).status == JobStatus.TRANSCRIBED
    transcript = client.get_transcript_object(job.id)
    words = [e.value for m in transcript.monologues for e in m.elements if e.type_ == "text"]
    assert words == fake_revai.default_text.split()
    client.delete_job(job.id)
    assert fake_revai.deletions() == [f"/speechtotext/v1/jobs/{job.id}"]


def test_gladia_sdk_against_the_fake(fake_gladia):
    pytest.importorskip("gladiaio_sdk")
    from gladiaio_sdk import GladiaClient

    client = GladiaClient(api_key=fake_gladia.api_key, api_url=fake_gladia.base_url).pre_recorded_v2()
    result = client.transcribe(str(AUDIO), {"language_config": {"languages": ["en"]}, "diarization": True}, interval=0.01)
    assert result.status == "done"
    assert result.result.transcription.full_transcript == sentence(fake_gladia)
    assert result.result.metadata.billing_time > 1
    assert client.delete(result.id) is True  # the SDK reads 202 as deleted
    assert fake_gladia.deletions() == [f"/v2/pre-recorded/{result.id}"]


def test_soniox_sdk_against_the_fake(fake_soniox):
    soniox = pytest.importorskip("soniox")
    client = soniox.SonioxClient(api_key=fake_soniox.api_key, api_base_url=f"{fake_soniox.base_url}/v1")
    try:
        transcript = client.stt.transcribe_and_wait_with_tokens(model="stt-async-v4", file=AUDIO, delete_after=True,
                                                               wait_interval_sec=0.01)
    finally:
        client.close()
    assert transcript.text == fake_soniox.default_text + "."
    assert "".join(t.text for t in transcript.tokens) == transcript.text
    assert fake_soniox.files == {} and all(j.deleted for j in fake_soniox.jobs.values())
