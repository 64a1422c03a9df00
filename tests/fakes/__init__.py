"""Fake provider servers for tests: real HTTP, websocket and SSE on 127.0.0.1, no mocks.

- server.FakeServer: the generic base (background thread, ephemeral port, request log,
  a FIFO of scripted `Fault`s: error status + headers, slow reply, malformed JSON, dropped
  connection, websocket close codes). Reuse it for any fault-injecting provider server.
- fake_deepgram.FakeDeepgram: Deepgram pre-recorded and live (websocket) /v1/listen.
- fake_openai.FakeOpenAI: OpenAI /v1/audio/transcriptions (multipart, JSON, SSE).
- multipart.MultipartFake: base of the vendors answering one multipart upload with JSON.
- fake_elevenlabs, fake_azure, fake_mistral, fake_groq (the fake OpenAI on Groq's mount),
  fake_google (Speech-to-Text v2 REST JSON): one fake per one-request vendor; their tests
  define their own fixtures. adapter_calls: one adapter attempt against a fake, job files run.
- jobs.JobFakeServer: the base of job APIs (pending states per poll, vendor-side errors,
  an account limit on jobs in flight, deletions seen, the per-route plumbing: `begin`,
  `job_request`, `form_file`); fake_assemblyai, fake_speechmatics, fake_revai, fake_gladia,
  fake_soniox on it.
- live_base.LiveFake: base of the fake live-streaming vendors, whose partials and finals are
  programmed (`StreamScript`) relative to the audio received; fake_assemblyai_live,
  fake_speechmatics_live, fake_openai_realtime, fake_elevenlabs_live, fake_soniox_live,
  fake_gladia_live speak each vendor's protocol on it (tests/test_live_vendors.py).
- fixtures: pytest fixtures `fake_deepgram` and `fake_openai` (started and stopped per test),
  loaded for every test by tests/conftest.py.
- serve.py: run one in the foreground to point the CLI at it by hand.
"""

from .fake_assemblyai import FakeAssemblyAI
from .fake_deepgram import FakeDeepgram
from .fake_openai import FakeOpenAI
from .server import FakeServer, Fault, RecordedRequest, audio_key

__all__ = ["FakeAssemblyAI", "FakeDeepgram", "FakeOpenAI", "FakeServer", "Fault", "RecordedRequest", "audio_key"]
