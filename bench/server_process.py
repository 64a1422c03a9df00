"""bench/latency_server.py started in its own process, with its control endpoints as methods."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

SERVER = Path(__file__).resolve().parent / "latency_server.py"


class LatencyServer:
    """`with LatencyServer(200) as server:` serves on 127.0.0.1 at `server.url` until the block ends."""

    def __init__(self, latency_ms: float) -> None:
        self.latency_ms = latency_ms
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> LatencyServer:
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), "--latency-ms", str(self.latency_ms)], stdout=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "port":
            self.proc.kill()
            raise RuntimeError(f"the latency server did not start (said {line!r})")
        self.url = f"http://127.0.0.1:{line[1]}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)

    def _call(self, method: str, path: str) -> dict:
        req = urllib.request.Request(f"{self.url}{path}", method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=10) as reply:
            return json.loads(reply.read())

    def stats(self) -> dict:
        return self._call("GET", "/stats")

    def reset(self) -> None:
        self._call("POST", "/reset")

    def burst(self, count: int, retry_ms: int, target: int = 0, after: int = 0) -> None:
        """Once `after` requests were answered, the next `count` are answered 429 with
        retry-after-ms: `retry_ms`; /stats then tells when `target` requests were in flight again."""
        self._call("POST", f"/burst?count={count}&retry_ms={retry_ms}&target={target}&after={after}")
