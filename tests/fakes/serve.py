"""Run a fake provider server in the foreground, to try the CLI against it by hand:

    python tests/fakes/serve.py deepgram        # or: openai, elevenlabs, azure, mistral, groq, google, assemblyai, speechmatics, revai, gladia, soniox
    # prints the base_url and key; put base_url in a copy of the job file, export the key, run.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fakes import FakeDeepgram, FakeOpenAI  # noqa: E402
from fakes.fake_assemblyai import FakeAssemblyAI  # noqa: E402
from fakes.fake_azure import FakeAzureSpeech  # noqa: E402
from fakes.fake_elevenlabs import FakeElevenLabs  # noqa: E402
from fakes.fake_gladia import FakeGladia  # noqa: E402
from fakes.fake_google import FakeGoogleSpeech  # noqa: E402
from fakes.fake_groq import FakeGroq  # noqa: E402
from fakes.fake_mistral import FakeMistral  # noqa: E402
from fakes.fake_revai import FakeRevAI  # noqa: E402
from fakes.fake_soniox import FakeSoniox  # noqa: E402
from fakes.fake_speechmatics import FakeSpeechmatics  # noqa: E402

#: provider name -> (fake server, the key variable its adapter reads)
FAKES = {
    "deepgram": (FakeDeepgram, "DEEPGRAM_API_KEY"),
    "openai": (FakeOpenAI, "OPENAI_API_KEY"),
    "elevenlabs": (FakeElevenLabs, "ELEVENLABS_API_KEY"),
    "azure": (FakeAzureSpeech, "AZURE_SPEECH_KEY"),
    "mistral": (FakeMistral, "MISTRAL_API_KEY"),
    "groq": (FakeGroq, "GROQ_API_KEY"),
    "google": (FakeGoogleSpeech, "GOOGLE_SPEECH_API_KEY (set api_key_env to it)"),
    "assemblyai": (FakeAssemblyAI, "ASSEMBLYAI_API_KEY"),
    "speechmatics": (FakeSpeechmatics, "SPEECHMATICS_API_KEY"),
    "revai": (FakeRevAI, "REVAI_ACCESS_TOKEN"),
    "gladia": (FakeGladia, "GLADIA_API_KEY"),
    "soniox": (FakeSoniox, "SONIOX_API_KEY"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("provider", choices=sorted(FAKES))
    args = parser.parse_args()
    fake, env = FAKES[args.provider]
    server = fake().start()
    print(f"fake {args.provider} at {server.base_url}\nexport {env}={server.api_key}\nCtrl-C to stop", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print(f"{len(server.requests)} requests served")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
