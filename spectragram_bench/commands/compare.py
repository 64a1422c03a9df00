"""`spectragram-bench compare JOB_RUN_A JOB_RUN_B`: is the WER difference real?

Prints, per dataset split and variant, or per group of `--by KEY` (speaker, sex, duration, any
utterance metadata key), and over all when several: WER of A and B with 95% bootstrap intervals
and S/D/I, the paired bootstrap of WER_A - WER_B with its 95% interval and P(B better), sclite's
MAPSSWE p-value; then sclite's sign and Wilcoxon signed-rank tests over speakers, McNemar's test
on sentence errors and the paired bootstrap of CER_A - CER_B, on the utterances both runs transcribed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spectragram_bench.evaluations.v1.comparison import Comparison

from spectragram_bench.app import add_db_option

DEFAULT_ITERATIONS = 10_000


def add_parser(sub):
    p = sub.add_parser("compare", help="paired significance test of two job runs (bootstrap and MAPSSWE)")
    p.add_argument("job_run_a", type=int, metavar="JOB_RUN_A")
    p.add_argument("job_run_b", type=int, metavar="JOB_RUN_B")
    p.add_argument("--normalizer", default=None, metavar="NAME",
                   help="default: the normaliser of A's evaluation (--eval-version, else A's latest)")
    p.add_argument("--eval-version", default=None, metavar="VERSION",
                   help="compare under the normaliser of this evaluation of A; default: A's latest")
    p.add_argument("--iterations", type=int, default=None, metavar="N",
                   help=f"bootstrap resamples; default: A's benchmark config, else {DEFAULT_ITERATIONS}")
    p.add_argument("--seed", type=int, default=None, help="bootstrap seed; default: A's benchmark config")
    p.add_argument("--by", default=None, metavar="KEY",
                   help="compare per group of this utterance key (speaker, sex, duration, variant, or a meta key)")
    add_db_option(p)
    return p


def _evaluation_normalizer(session, args, config):
    """The normaliser A's chosen (or latest) evaluation used, when this install has it exactly."""
    from spectragram_bench.core.errors import BenchError
    from spectragram_bench.core.normalize import resolve
    from spectragram_bench.reporting.predictions import job_run_normalizers

    choice = job_run_normalizers(session, [args.job_run_a], args.eval_version)[args.job_run_a]
    if args.eval_version is not None and choice.stored_tag is None:
        raise BenchError(f"job run {args.job_run_a} has no evaluation {args.eval_version!r}")
    if choice.exact:
        return choice.normalizer
    if args.eval_version is not None:
        raise BenchError(f"evaluation {args.eval_version}: {choice.note}; give --normalizer")
    return resolve(config.normalizer, config.normalizer_steps)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def _ci(low: float | None, high: float | None, signed: bool = False) -> str:
    if low is None or high is None:
        return "-"
    fmt = "{:+.2f}" if signed else "{:.2f}"
    return f"[{fmt.format(100 * low)}, {fmt.format(100 * high)}]"


def _p(p: float | None) -> str:
    if p is None:
        return "-"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _sdi(c) -> str:
    return f"{c.substitutions}/{c.deletions}/{c.insertions}"


def verdict(c: Comparison, a: str, b: str) -> str:
    d = c.paired.difference
    where = "all" if c.dataset == "all" else f"{c.dataset} {c.split} {c.variant}"
    if d.estimate is None:
        return f"{where}: no reference words, nothing to compare"
    lead, trail = (b, a) if d.estimate > 0 else (a, b)
    tests = f"P(B better) = {c.paired.p_b_better:.3f}; MAPSSWE p = {_p(c.mapsswe.p_value)}"
    if c.paired.significant:
        return (f"{where}: {lead} has the lower WER by {abs(100 * d.estimate):.2f} points, "
                f"95% CI of A-B {_ci(d.low, d.high, True)} excludes 0 ({tests})")
    return (f"{where}: no significant difference ({abs(100 * d.estimate):.2f} points in favour of {lead} over "
            f"{trail}; 95% CI of A-B {_ci(d.low, d.high, True)} includes 0; {tests})")


def tests_table(rows: list[Comparison]):
    """sclite's speaker-level tests, McNemar on sentence errors, and the paired CER test (a rich Table)."""
    from rich.table import Table

    table = Table(title="speaker sign and Wilcoxon tests (sclite), McNemar on sentence errors, paired CER")
    for col in ("dataset", "split", "variant", "speakers A/B better", "sign p", "Wilcoxon p",
                "sentences A/B only wrong", "McNemar p", "CER A", "CER B", "A-B 95% CI", "P(B better)"):
        table.add_column(col, justify="left" if col in ("dataset", "split", "variant") else "right")
    for c in rows:
        table.add_row(
            c.dataset, c.split, c.variant, f"{c.sign.a_better}/{c.sign.b_better} ({c.sign.ties} tied)",
            _p(c.sign.p_value), _p(c.wilcoxon.p_value),
            f"{c.mcnemar.a_only_wrong}/{c.mcnemar.b_only_wrong}", _p(c.mcnemar.p_value),
            _pct(c.cer.wer_a), _pct(c.cer.wer_b), _ci(c.cer.difference.low, c.cer.difference.high, True),
            "-" if c.cer.p_b_better is None else f"{c.cer.p_b_better:.3f}",
        )
    return table


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from spectragram_bench.core.normalize import resolve
    from spectragram_bench.core.persistence import open_database, resolve_db_url
    from spectragram_bench.evaluations.v1.comparison import compare_job_runs, job_run_label
    from spectragram_bench.evaluations.v1.pipeline import evaluation_config
    from spectragram_bench.reporting.summary import wide_console

    db = open_database(resolve_db_url(args.db, None))
    try:
        with db.session() as s:
            label_a, label_b = job_run_label(s, args.job_run_a), job_run_label(s, args.job_run_b)
            config = evaluation_config(s, args.job_run_a)
            normalizer = resolve(args.normalizer) if args.normalizer else _evaluation_normalizer(s, args, config)
            iterations = args.iterations or config.bootstrap_iterations or DEFAULT_ITERATIONS
            seed = config.bootstrap_seed if args.seed is None else args.seed
            rows = compare_job_runs(s, args.job_run_a, args.job_run_b, normalizer, iterations, seed, args.by)
        a, b = f"A = job run {args.job_run_a} ({label_a})", f"B = job run {args.job_run_b} ({label_b})"
        table = Table(title=f"{a} vs {b}\nnormaliser {normalizer.tag}, paired bootstrap {iterations} resamples, seed {seed}")
        for col, justify in (
            ("dataset", "left"), ("split", "left"), ("variant", "left"), ("N both", "right"),
            ("WER A", "right"), ("A 95% CI", "right"), ("S/D/I A", "right"),
            ("WER B", "right"), ("B 95% CI", "right"), ("S/D/I B", "right"),
            ("A-B", "right"), ("A-B 95% CI", "right"), ("P(B better)", "right"), ("MAPSSWE p", "right"),
        ):
            table.add_column(col, justify=justify)
        for c in rows:
            d = c.paired.difference
            table.add_row(
                c.dataset, c.split, c.variant, str(c.utterances),
                _pct(c.paired.wer_a), _ci(c.a.interval.low, c.a.interval.high), _sdi(c.a.counts),
                _pct(c.paired.wer_b), _ci(c.b.interval.low, c.b.interval.high), _sdi(c.b.counts),
                "-" if d.estimate is None else f"{100 * d.estimate:+.2f}", _ci(d.low, d.high, True),
                "-" if c.paired.p_b_better is None else f"{c.paired.p_b_better:.3f}",
                _p(c.mapsswe.p_value),
            )
        console: Console = wide_console()
        console.print(table)
        console.print(tests_table(rows))
        for c in rows:
            console.print(verdict(c, "A", "B"), highlight=False, soft_wrap=True)
            if c.only_a or c.only_b:
                console.print(f"  left out: {c.only_a} utterance(s) transcribed by A only, {c.only_b} by B only",
                              highlight=False)
        return 0
    finally:
        db.dispose()
