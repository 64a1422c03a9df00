"""What the vendors that answer a transcription in one HTTP request share (ElevenLabs, Azure,
Mistral, Groq; the job-based ones for each step's request): the request sent through CloudProvider.request with its failures classified
once, the language read from the job's params or else from the dataset's item, and the
`x-ratelimit-*` headers a reply carries, kept for the record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ProviderError
from spectragram_bench.providers.cloud import CloudProvider
from spectragram_bench.providers.http_client import Reply
from spectragram_bench.providers.http_errors import error_for_exception, error_for_response


async def send_checked(
    provider: CloudProvider, method: str, url: str, *, request_id_header: str,
    refine: Callable[[Reply, ProviderError], ProviderError] | None = None, **kwargs: Any,
) -> Reply:
    """One request; a transport failure or a non-2xx reply is raised as a classified ProviderError
    (`refine` adjusts it where the vendor documents more: its own message shape, a retry header)."""
    try:
        response = await provider.request(method, url, **kwargs)
    except Exception as exc:
        raise error_for_exception(exc, secrets=provider.secrets) from None
    if response.status_code >= 300:
        error = error_for_response(response, request_id_header=request_id_header, secrets=provider.secrets)
        raise refine(response, error) if refine is not None else error
    return response


def item_language(params: Mapping[str, Any], param_name: str, item: WorkItem) -> Any:
    """The job's explicit language parameter if set, else the dataset's language of the item
    (ISO 639-1, None when unknown)."""
    if params.get(param_name) is not None:
        return params[param_name]
    return getattr(item, "language", None)


def rate_limit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The reply's x-ratelimit-* headers (limits, remaining, resets), for the latency record."""
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith("x-ratelimit-")}
