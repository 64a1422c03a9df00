"""What every cloud (or self-hosted HTTP) adapter shares: the base URL, the API key read from
the environment before any work starts, and the HTTP path (providers/http_client.py: one
aiohttp session per provider instance, wire clocks, the reply-size cap).

The key lives only in this object and in request headers: it is never a config value, never
part of model_params(), and http_errors.scrub() removes it from any error text a server echoes.
"""

from __future__ import annotations

import os
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp

from spectragram_bench import __version__
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.scrubbing import register_secret
from spectragram_bench.providers.base import Provider
from spectragram_bench.providers.http_client import HttpClient, Reply, StreamReply

USER_AGENT = f"spectragram-bench/{__version__}"


class CloudProvider(Provider):
    default_base_url: ClassVar[str]
    default_key_env: ClassVar[str | None]
    #: False for servers that may run without authentication (self-hosted OpenAI-compatible)
    key_required: ClassVar[bool] = True
    #: the executor reads the untouched source file in its I/O pool, off the event loop
    uploads_source: ClassVar[bool] = True

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.where = f"provider {config.display!r}"
        base = config.base_url or self.default_base_url
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{self.where}: base_url {base!r} must be an http:// or https:// URL")
        # Adapters append their documented paths (/v1/...) to scheme and host; a base URL ending in
        # /v1 (the OpenAI SDK habit) names the same server. The OpenAI adapter reads base_url as its
        # SDK does instead (providers/openai_whisper.api_base).
        self.base_url = base.rstrip("/").removesuffix("/v1")
        self.key_env = config.api_key_env or self.default_key_env
        if self.model == "default":
            raise ConfigError(f"{self.where}: set \"model\" to the provider's model name (e.g. {self.example_model!r})")
        self._api_key: str | None = None
        self._key_checked = False
        self.http = HttpClient(
            connections=config.concurrency, timeout_s=config.timeout_s,
            max_reply_bytes=config.max_reply_bytes, user_agent=USER_AGENT,
        )

    example_model: ClassVar[str] = ""

    def check_ready(self) -> None:
        key = os.environ.get(self.key_env, "").strip() if self.key_env else ""
        if not key and self.key_required:
            raise ConfigError(
                f"{self.where}: the API key variable {self.key_env} is not set; "
                f"export {self.key_env}=... (or name another variable in api_key_env)"
            )
        self._api_key = key or None
        register_secret(self._api_key)  # scrubbed from every text stored or logged from now on
        self._key_checked = True

    @property
    def api_key(self) -> str | None:
        if not self._key_checked:
            self.check_ready()
        return self._api_key

    @property
    def secrets(self) -> tuple[str | None, ...]:
        """What error texts must never contain."""
        return (self._api_key,)

    async def request(self, method: str, url: str, **kwargs: Any) -> Reply:
        """One HTTP request, its reply read whole (at most `max_reply_bytes`): every adapter sends
        through here, so the HTTP path (client, wire clocks, reply cap) is changed in one place.
        Takes httpx's arguments params, headers, content, data, files, json, timeout (seconds)."""
        return await self.http.request(method, url, **kwargs)

    def stream(self, method: str, url: str, **kwargs: Any) -> AbstractAsyncContextManager[StreamReply]:
        """`async with self.stream(...) as reply:` the reply with its body still to read
        (`reply.aiter_lines()`, `await reply.aread()`), under the same cap and clocks."""
        return self.http.stream(method, url, **kwargs)

    @property
    def ws_max_size(self) -> int:
        """The largest websocket message a streaming adapter accepts (websockets' max_size)."""
        return self.config.max_reply_bytes

    def sdk_info(self) -> tuple[str, str | None]:
        return ("aiohttp", aiohttp.__version__)

    def endpoint_params(self) -> dict[str, Any]:
        """The server is part of what produced the output (a self-hosted model differs)."""
        return {"base_url": self.base_url}

    async def aclose(self) -> None:
        await self.http.aclose()


def elapsed_ms(start: float | None, end: float | None) -> float | None:
    """Milliseconds between two perf_counter() readings; None if either event never happened."""
    if start is None or end is None:
        return None
    return round((end - start) * 1000.0, 3)
