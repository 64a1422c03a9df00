"""Limits per account: job runs with the same provider name, base_url and api_key_env are one
account at the vendor, so they share one concurrency limit, one rate schedule and one
first-attempt gate (as inspect_ai scopes limits by `connection_key()`).

- The limits of an account are given once, or the same on every entry: two entries of one
  account giving different `concurrency` or `rate_limit` are refused, naming both JSON paths.
- The rate schedule is one Pacer per account in a process, and on PostgreSQL the `rate_pacer`
  row of the account's lowest job run id in the benchmark, so every worker shares it.
- The first attempt of an account runs alone (`FirstAttemptGate`): the others start once it
  succeeds, so a wrong key or an unreachable server costs exactly one request. When every
  attempt of that first utterance failed to connect (refused, DNS, TLS), the account's job
  runs stop as failed with one line naming the URL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.models import Benchmark, JobRun
from spectragram_bench.core.records import WorkItem
from spectragram_bench.core.registry import provider_class
from spectragram_bench.providers.base import ErrorKind, ProviderError
from spectragram_bench.worker.limits import AdaptiveConcurrency, Pacer

#: the limits an account has once, whichever of its entries gives them
ACCOUNT_LIMITS = ("concurrency", "rate_limit")
#: statuses that are about the model or the endpoint, not the account: other job runs of the
#: account go on (a second model may exist where the first does not)
NOT_ACCOUNT_WIDE = frozenset({404, 405})

AccountKey = tuple[str, str, str]


def token_of(item: WorkItem) -> tuple[int, int]:
    """Who holds an account's first-attempt probe: one utterance of one job run."""
    return (item.job_run_id, item.utt_id)


def account_key(pc: ProviderConfig) -> AccountKey | None:
    """(provider name, base URL, key variable) for a cloud provider (a CloudProvider adapter);
    None otherwise (each of its job runs has its own limits)."""
    from spectragram_bench.providers.cloud import CloudProvider  # the registry imports adapters lazily

    cls = provider_class(pc)  # a live-streaming adapter when the mode says so
    if not (isinstance(cls, type) and issubclass(cls, CloudProvider)):
        return None  # a local engine or a plugin adapter outside the cloud contract
    default_url = getattr(cls, "default_base_url", None)
    if default_url is None and pc.base_url is None:
        return None
    base = (pc.base_url or default_url).rstrip("/").removesuffix("/v1")  # .../v1 is the same server
    return (pc.name, base, pc.api_key_env or getattr(cls, "default_key_env", None) or "")


def _shown(value: Any) -> str:
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_none=True)
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else repr(value)


def check_account_limits(providers: Sequence[ProviderConfig]) -> None:
    """Refuse a job whose entries of one account give different limits (one line, both paths)."""
    given: dict[tuple[AccountKey, str], tuple[int, Any]] = {}
    for i, pc in enumerate(providers):
        key = account_key(pc)
        if key is None:
            continue
        for name in ACCOUNT_LIMITS:
            if name not in pc.model_fields_set:
                continue
            value = getattr(pc, name)
            first = given.setdefault((key, name), (i, value))
            if first[1] != value:
                raise ConfigError(
                    f"$.providers[{first[0]}].{name} ({_shown(first[1])}) and $.providers[{i}].{name} "
                    f"({_shown(value)}) differ, but both are one account ({key[0]} at {key[1]}, key "
                    f"${key[2] or '-'}): an account has one limit; give it once or the same on both"
                )


def with_account_limits(pc: ProviderConfig, siblings: Sequence[ProviderConfig]) -> ProviderConfig:
    """`pc` with its account's limits: what any entry of the account gives, else its own."""
    key = account_key(pc)
    if key is None:
        return pc
    update: dict[str, Any] = {}
    for other in siblings:
        if account_key(other) == key:
            update.update({name: getattr(other, name) for name in ACCOUNT_LIMITS if name in other.model_fields_set})
    return pc.model_copy(update=update) if update else pc


def account_pacer_row(db, job_run_id: int) -> int:
    """The job run whose `rate_pacer` row holds the account's schedule: the lowest id among the
    benchmark's job runs of the same account, so every worker picks the same row."""
    with db.session() as s:
        run = s.get(JobRun, job_run_id)
        stored = s.get(Benchmark, run.benchmark_id).config_json or {}
        labels = dict(s.execute(select(JobRun.label, JobRun.job_run_id).where(JobRun.benchmark_id == run.benchmark_id)).all())
    configs = {}
    for raw in stored.get("providers", []):
        try:
            pc = ProviderConfig.model_validate(raw)
        except ValueError:
            continue
        configs[pc.display] = pc
    mine = configs.get(run.label)
    key = account_key(mine) if mine is not None else None
    if key is None:
        return job_run_id
    same = [jr for label, jr in labels.items() if label in configs and account_key(configs[label]) == key]
    return min(same, default=job_run_id)


class AccountStopped(Exception):
    """The account's first attempt failed for good (bad key, unreachable server): this attempt
    is not made, its utterance stays unrecorded and the job run stops with `error`."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


class Interrupted(Exception):
    """The job run is stopping: an attempt waiting at the gate is not made."""


def account_wide(exc: ProviderError) -> bool:
    return exc.kind == ErrorKind.FATAL and exc.status not in NOT_ACCOUNT_WIDE


#: replies that prove the key and the server are fine: the utterance's own fault, or a rate
#: limit (AIMD then lowers the account's concurrency; a probe retrying alone through a burst of
#: 429s would drain it one backoff at a time)
OPENS_GATE = frozenset({ErrorKind.UTTERANCE, ErrorKind.RATE_LIMITED})


class FirstAttemptGate:
    """Lets one utterance (the probe) try alone until an attempt of the account succeeds."""

    def __init__(self, url: str | None = None, *, open_: bool = False) -> None:
        self.url = url
        self.open = open_
        self.fatal: ProviderError | None = None
        self._probe: Any = None  # the token (job run, utterance) holding the probe
        self._probe_unreachable = True  # every attempt of the probe so far failed to connect
        self._probe_attempts = 0
        self._changed = asyncio.Event()

    async def enter(self, token: Any, stop: asyncio.Event) -> None:
        """Return when `token` may send an attempt; raises AccountStopped or Interrupted."""
        while not self.open:
            if self.fatal is not None:
                raise AccountStopped(self.fatal)
            if self._probe is None or self._probe == token:
                self._probe = token
                return
            if stop.is_set():
                raise Interrupted
            self._changed.clear()
            waiter = asyncio.ensure_future(self._changed.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                stopper.cancel()

    def after(self, token: Any, ok: bool, error: ProviderError | None) -> None:
        """The outcome of an attempt by `token`: a success (or an `OPENS_GATE` reply, so key
        and server are fine) opens the gate; an account-wide fatal reply closes the account."""
        if self.open or token != self._probe:
            return
        self._probe_attempts += 1
        if ok or (error is not None and error.kind in OPENS_GATE):
            self.open = True
        elif error is not None and account_wide(error):
            self.fatal = error
        elif error is not None and not error.unreachable:
            self._probe_unreachable = False
        if self.open or self.fatal is not None:
            self._changed.set()

    def release(self, token: Any, *, gave_up: bool) -> ProviderError | None:
        """`token`'s utterance is finished (or abandoned) without opening the gate: the next
        utterance probes, unless every attempt failed to connect; then the account stops and
        the error naming the URL is returned."""
        if self.open or token != self._probe:
            return None
        if gave_up and self.fatal is None and self._probe_attempts and self._probe_unreachable:
            self.fatal = ProviderError(
                ErrorKind.FATAL,
                f"cannot connect to {self.url}: every one of the first {self._probe_attempts} attempts "
                "failed to connect (refused, DNS or TLS); check base_url and the network",
            )
        self._probe, self._probe_unreachable, self._probe_attempts = None, True, 0
        self._changed.set()
        return self.fatal


@dataclass
class Account:
    """What the job runs of one account share in this process."""

    key: AccountKey | None
    slots: AdaptiveConcurrency
    pacer: Pacer
    gate: FirstAttemptGate
    concurrency: int
    job_runs: list[int] = field(default_factory=list)


class Accounts:
    """The accounts of a process's job runs, created on first use."""

    def __init__(self) -> None:
        self._by_key: dict[AccountKey, Account] = {}

    def get(self, pc: ProviderConfig, concurrency: int, make_pacer) -> Account:
        """The account of `pc` (with the account's concurrency already resolved); `make_pacer()`
        builds its rate schedule when the account is new."""
        key = account_key(pc)
        if key is None:  # a local engine: limits of its own, no gate
            return Account(None, AdaptiveConcurrency(concurrency), make_pacer(), FirstAttemptGate(open_=True), concurrency)
        if key not in self._by_key:
            self._by_key[key] = Account(key, AdaptiveConcurrency(concurrency), make_pacer(), FirstAttemptGate(key[1]),
                                        concurrency)
        return self._by_key[key]
