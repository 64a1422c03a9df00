"""When to try an attempt again: full-jitter exponential backoff, never sooner than the
server's retry-after hint (capped at MAX_RETRY_AFTER_S)."""

from __future__ import annotations

import random
from dataclasses import dataclass

MAX_RETRY_AFTER_S = 600.0  # a longer hint is capped: the item is retried after ten minutes


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 60.0

    def delay(self, attempt: int, retry_after_s: float | None, rng: random.Random) -> float:
        """Full jitter (uniform in [0, base * 2^attempt], capped), but never sooner than the server asked."""
        backoff = rng.uniform(0, min(self.max_delay_s, self.base_delay_s * (2**attempt)))
        if retry_after_s is not None and retry_after_s > 0:
            return max(backoff, min(retry_after_s, MAX_RETRY_AFTER_S))
        return backoff
