"""The real CLI with the test-only providers of fault_fake registered (for subprocess tests)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from spectragram_bench.app import main  # noqa: E402
from spectragram_bench.core.registry import PROVIDERS  # noqa: E402

PROVIDERS.register("faulty", "fault_fake:FaultyProvider")
PROVIDERS.register("process_echo", "fault_fake:ProcessEcho")

if __name__ == "__main__":
    raise SystemExit(main())
