"""The checks of a job before anything is paid for, shared by `run` and `run --dry-run`.

Every name is checked, not only the first bad one: the normaliser (and each metric's own),
every metric, every provider (its name, params and key) and every dataset entry (its loader
name, root and options). `run` stops on them with one line; `--dry-run` lists them all and
exits non-zero. Problems of the inputs themselves (undecodable, silent or missing audio, a bad
manifest row) are not fatal: the run records each as that item's failure, and the dry run
reports them from the same plan (worker/plan.py: input_problems).
"""

from __future__ import annotations

from dataclasses import dataclass

from spectragram_bench.core.config import JobConfig, MetricSpec
from spectragram_bench.core.errors import BenchError, ConfigError
from spectragram_bench.core.normalize import resolve
from spectragram_bench.core.registry import DATASETS


def name_problems(config: JobConfig) -> list[str]:
    """One line per bad name or setting, each naming where it is in the job file."""
    from spectragram_bench.evaluations.registry import get_metric
    from spectragram_bench.worker.accounts import check_account_limits
    from spectragram_bench.worker.registration import build_provider

    problems: list[str] = []

    def check(where: str, fn) -> None:
        try:
            fn()
        except BenchError as exc:
            problems.append(f"{where}: {exc}")

    ev = config.evaluation
    check("$.evaluation.normalizer", lambda: resolve(ev.normalizer, ev.normalizer_steps))
    for i, m in enumerate(ev.metrics or []):
        spec = MetricSpec(name=m) if isinstance(m, str) else m
        check(f"$.evaluation.metrics[{i}]", lambda spec=spec: get_metric(spec.name))
        if spec.normalizer is not None or spec.normalizer_steps is not None:
            check(f"$.evaluation.metrics[{i}].normalizer",
                  lambda spec=spec: resolve(spec.normalizer or ev.normalizer, spec.normalizer_steps))
    before = len(problems)
    for i, pc in enumerate(config.providers):
        check(f"$.providers[{i}]", lambda pc=pc: build_provider(pc, config.providers))
    if len(problems) == before:  # shared account limits need every provider class
        check("$.providers", lambda: check_account_limits(config.providers))
    for i, dc in enumerate(config.datasets):
        check(f"$.datasets[{i}]", lambda dc=dc: DATASETS.get(dc.name)(dc.root, dc.subsets, dc.options))
    return problems


def check_names(config: JobConfig) -> None:
    """Raise one ConfigError line for the names `run` cannot use (all of them, `; `-separated)."""
    problems = name_problems(config)
    if len(problems) == 1:
        raise ConfigError(problems[0])
    if problems:
        raise ConfigError(f"{len(problems)} problems: " + "; ".join(problems))


#: how an input problem is counted in the dry run, by the words its message uses (core/audio.py,
#: core/audio_source.py, the loaders' load_error); the first match wins
PROBLEM_KINDS = (
    ("missing audio", ("not found", "no such file", "does not exist")),
    ("silent audio", ("is silent",)),
    ("undecodable audio", ("cannot decode", "cannot read audio", "no samples", "no bytes", "not audio",
                           "neither bytes", "sampling_rate", "is null")),
)
BAD_ROW = "bad dataset row"  # every other finding of a loader: an empty transcript, a missing field


def problem_kind(message: str) -> str:
    low = message.lower()
    return next((kind for kind, words in PROBLEM_KINDS if any(w in low for w in words)), BAD_ROW)


@dataclass
class InputProblems:
    """One dataset's input problems of one kind: each is an item the run records as failed, never sent."""

    dataset: str
    kind: str
    count: int
    example: str


def input_problems(plan) -> list[InputProblems]:
    """The problems the plan's audio check and loaders found, by dataset and kind."""
    out: dict[tuple[str, str], InputProblems] = {}
    for r in plan.rows:
        name = r.config.label or r.config.name
        for message in r.problems.values():
            key = (name, problem_kind(message))
            if key not in out:
                out[key] = InputProblems(name, key[1], 0, message)
            out[key].count += 1
    return sorted(out.values(), key=lambda p: (p.dataset, -p.count, p.kind))


def problem_lines(plan) -> list[str]:
    found = input_problems(plan)
    if not found:
        return ["inputs: no problem found (every selected file decodes and is audible)"]
    total = sum(p.count for p in found)
    per_run = sum(len(r.problems) * len(r.variants) for r in plan.rows)
    lines = [f"inputs: {total} of {sum(r.n_selected for r in plan.rows)} utterances would fail without being sent "
             f"({per_run} items per job run), recorded with these reasons:"]
    width = max(len(p.kind) for p in found)
    lines += [f"  {p.dataset}: {p.kind:<{width}} {p.count:>6}  e.g. {p.example}" for p in found]
    return lines
