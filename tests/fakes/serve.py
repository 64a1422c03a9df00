"""Run a fake provider server in the foreground, to try the CLI against it by hand:

    python tests/fakes/serve.py deepgram        # or: openai
    # prints the base_url and key; put base_url in a copy of the job file, export the key, run.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fakes import FakeDeepgram, FakeOpenAI  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("provider", choices=("deepgram", "openai"))
    args = parser.parse_args()
    server = (FakeDeepgram if args.provider == "deepgram" else FakeOpenAI)().start()
    env = "DEEPGRAM_API_KEY" if args.provider == "deepgram" else "OPENAI_API_KEY"
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
