"""Deepgram live streaming: the /v1/listen websocket (`"name": "deepgram", "mode": "streaming"`).

linear16 mono frames at 1x real time (providers/streaming.py), KeepAlive when the pace is slow,
CloseStream at the end; Results (is_final) are the partials and finals, and the Metadata message
that follows CloseStream ends the transcript. A refused handshake carries an HTTP status (401
bad key: fatal); close 1008 (DATA-0000, undecodable audio) fails the utterance, 1011 is retried.
"""

from __future__ import annotations

import json
import logging
from typing import Any, ClassVar

from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind
from spectragram_bench.providers.deepgram import (
    KNOWN_QUERY_PARAMS,
    LISTEN_PATH,
    duration_usage,
    model_revision,
    query_value,
)
from spectragram_bench.providers.http_errors import bad_reply
from spectragram_bench.providers.streaming import StreamingProvider, StreamingSession

log = logging.getLogger(__name__)

#: query parameters the adapter sets itself (it produces linear16 mono PCM)
STREAM_DEFAULTS = {"encoding": "linear16", "sample_rate": 16000, "channels": 1, "interim_results": True}


class DeepgramLive(StreamingProvider):
    name: ClassVar[str] = "deepgram"
    vendor: ClassVar[str] = "Deepgram"
    default_base_url: ClassVar[str] = "https://api.deepgram.com"
    default_key_env: ClassVar[str | None] = "DEEPGRAM_API_KEY"
    example_model: ClassVar[str] = "nova-3"
    utterance_close_codes: ClassVar[frozenset[int]] = frozenset({1003, 1007, 1008, 1009})

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        params = dict(self.vendor_params)
        self.keepalive_s = float(params.pop("keepalive_s", 4.0))
        if self.keepalive_s <= 0:
            raise ConfigError(f"{self.where}: params.keepalive_s must be > 0")
        for key, value in params.items():
            if isinstance(value, dict):
                raise ConfigError(f"{self.where}: params.{key} must be a value or a list, not an object")
        if "model" in params:
            raise ConfigError(f"{self.where}: set the model in the provider's \"model\" field, not params.model")
        self.query = {"model": self.model, **STREAM_DEFAULTS, **params}
        if self.query["encoding"] != "linear16":
            raise ConfigError(f"{self.where}: params.encoding must be linear16 (the adapter streams 16-bit PCM)")
        if str(self.query["channels"]) != "1":
            raise ConfigError(f"{self.where}: params.channels must be 1 (the adapter streams mono)")
        rate = self.query["sample_rate"]
        if not isinstance(rate, int) or isinstance(rate, bool) or not 8000 <= rate <= 48000:
            raise ConfigError(f"{self.where}: params.sample_rate must be an integer from 8000 to 48000 (Hz)")
        self.rate = rate
        unknown = sorted(set(self.query) - KNOWN_QUERY_PARAMS)
        if unknown:
            log.warning("%s: params %s are not documented Deepgram query parameters; sent as given", self.where, unknown)

    def model_params(self) -> dict[str, Any]:
        return {**self.query, **self.settings, "keepalive_s": self.keepalive_s, **self.endpoint_params()}

    def connect_url(self, item: WorkItem) -> str:
        query = {k: [query_value(x) for x in v] if isinstance(v, (list, tuple)) else query_value(v)
                 for k, v in self.query.items() if v is not None}
        return self.ws_url(LISTEN_PATH, query)

    def connect_headers(self) -> dict[str, str]:
        key = self.api_key
        return {"Authorization": f"Token {key}"} if key else {}

    def keepalive_message(self) -> str | None:
        return json.dumps({"type": "KeepAlive"})

    def end_messages(self, session: StreamingSession) -> list[str]:
        return [json.dumps({"type": "CloseStream"})]

    def on_message(self, message: Any, session: StreamingSession) -> None:
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "Results":
            try:
                alt = message["channel"]["alternatives"][0]
            except (KeyError, IndexError, TypeError):
                raise bad_reply("a Deepgram Results message without channel.alternatives[0]") from None
            text = (alt.get("transcript") or "").strip()
            words = alt.get("words") or []
            ends = [float(w["end"]) * 1000 for w in words if isinstance(w, dict) and isinstance(w.get("end"), (int, float))]
            if message.get("is_final"):
                session.final(text, words, ends)
            else:
                session.partial(text, ends)
            if session.model_revision is None and isinstance(message.get("metadata"), dict):
                info = message["metadata"].get("model_info") or {}
                if info.get("name"):
                    session.model_revision = f"{info['name']}/{info.get('version', '?')}"
        elif kind == "Metadata":
            session.usage, session.billed_seconds = duration_usage(message)
            session.model_revision = model_revision(message) or session.model_revision
            session.meta["request_id"] = message.get("request_id")
            session.meta["keepalives_sent"] = session.keepalives
            session.done()
        elif kind == "Error":
            raise session.fail(ErrorKind.RETRYABLE, str(message.get("description") or message.get("message") or message))
