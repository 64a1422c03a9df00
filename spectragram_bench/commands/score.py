"""`spectragram-bench score --ref REF --hyp HYP`: score transcripts made elsewhere, no provider, no database.

Prints the corpus WER with its utterance-level (and, where the ids name speakers, speaker-level)
95% bootstrap interval, S/D/I and hits, CER, and any registered metric given with `--metrics`.
`--alignment sclite` (the default here) splits tied alignments as sclite does (fewest
substitutions), so the totals equal sclite's summary exactly; `kaldialign` splits them as the
evaluation of a run does (core/align.py). Error totals are the same under both. Texts are compared as written
unless `--normalizer` says otherwise (sclite compares as written). A reference without a
hypothesis is left out and counted, or with `--missing-as-empty` scored as an empty
hypothesis (what sclite does).
"""

from __future__ import annotations

from spectragram_bench.evaluations.transcripts import FORMATS

RULES = ("kaldialign", "sclite")  # core/align.py's tie rules (kept here: --help must not import numpy)


def add_parser(sub):
    p = sub.add_parser("score", help="score a hypothesis file against a reference file (trn, Kaldi text, JSON lines)")
    p.add_argument("--ref", required=True, metavar="REF", help="reference transcripts (.trn, Kaldi text, .jsonl)")
    p.add_argument("--hyp", required=True, metavar="HYP", help="hypothesis transcripts (same id scheme)")
    p.add_argument("--format", choices=FORMATS, default=None, help="both files' format (default: by file extension)")
    p.add_argument("--normalizer", default="none", metavar="NAME", help="text normaliser (default: none, as sclite)")
    p.add_argument("--metrics", default="", metavar="M,M,...", help="more registered metrics to print (e.g. fwer,per,kw_recall)")
    p.add_argument("--missing-as-empty", action="store_true", help="score a reference without hypothesis as empty (sclite)")
    p.add_argument("--alignment", choices=RULES, default="sclite",
                   help="how tied alignments split S/D/I (default sclite; kaldialign as run evaluations do)")
    p.add_argument("--iterations", type=int, default=1000, metavar="N", help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    return p


def _batch(refs, hyps, normalizer):
    import numpy as np

    from spectragram_bench.evaluations.registry import UtteranceBatch

    n = len(refs)
    return UtteranceBatch(
        [normalizer(t.text) for t in refs], [normalizer(t.text) for t in hyps], [t.text for t in refs],
        [t.text for t in hyps], [0.0] * n, [{}] * n, [None] * n, np.zeros(n, dtype=bool), [[]] * n, normalizer,
    )


def run(args) -> int:
    import numpy as np
    from rich.table import Table

    from spectragram_bench.core import bootstrap
    from spectragram_bench.core import metrics as edit_metrics
    from spectragram_bench.core.errors import BenchError
    from spectragram_bench.core.normalize import resolve
    from spectragram_bench.evaluations.registry import (
        VALUE_SETS,
        compute_values,
        figure,
        get_metric,
        scope_of,
    )
    from spectragram_bench.evaluations.transcripts import Transcript, read_transcripts
    from spectragram_bench.reporting.columns import fmt_value
    from spectragram_bench.reporting.summary import wide_console

    normalizer = resolve(args.normalizer)
    refs = read_transcripts(args.ref, args.format, hypothesis=False)
    hyps = read_transcripts(args.hyp, args.format, hypothesis=True)
    extra = sorted(hyps.keys() - refs.keys())
    if extra:
        raise BenchError(f"{args.hyp}: {len(extra)} hypothesis id(s) not in {args.ref}, e.g. {extra[0]!r}")
    missing = [u for u in refs if u not in hyps]
    ids = [u for u in refs if u in hyps or args.missing_as_empty]
    if not ids:
        raise BenchError(f"no utterance of {args.ref} has a hypothesis in {args.hyp}")
    ref_list = [refs[u] for u in ids]
    hyp_list = [hyps.get(u, Transcript(u, "")) for u in ids]
    batch = _batch(ref_list, hyp_list, normalizer)
    names = ["wer", "cer"] + [m.strip() for m in args.metrics.split(",") if m.strip()]
    metrics = [get_metric(n) for n in dict.fromkeys(names)]
    for m in metrics:
        if scope_of(m) != "speech":
            raise BenchError(f"metric {m.name!r} needs non-speech clips, which `score` files cannot mark")
    sets = list(dict.fromkeys(n for m in metrics for n in m.needs))
    values = compute_values(batch, sets)
    if args.alignment != "kaldialign":  # the word counts under the chosen tie rule
        table = edit_metrics.word_counts(batch.refs, batch.hyps, args.alignment).table.astype(float)
        for k, name in enumerate(("hits", "substitutions", "deletions", "insertions")):
            values[name] = table[:, k]
    w = {k: int(values[k].sum()) for k in ("hits", "substitutions", "deletions", "insertions")}
    ref_words = w["hits"] + w["substitutions"] + w["deletions"]
    errors = w["substitutions"] + w["deletions"] + w["insertions"]
    table = Table(title=f"{args.hyp} against {args.ref}  (normaliser {normalizer.tag}, {args.alignment} "
                        f"alignment; {len(ids)} utterances, {ref_words} reference words)")
    for col in ("metric", "value", "95% CI (utterances)", "95% CI (speakers)"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    speakers = [t.speaker for t in ref_list]
    for m in metrics:
        fig = figure(m, {c: values[c] for n in m.needs for c in VALUE_SETS[n].columns})
        cis = ["-", "-"]
        if m.bootstrap and args.iterations > 0 and fig.value is not None:
            num, den = fig.numerator.astype(np.int64), fig.denominator.astype(np.int64)
            cis[0] = _ci(bootstrap.rate_interval(num, den, args.iterations, args.seed))
            if any(s is not None for s in speakers):
                cis[1] = _ci(bootstrap.rate_interval(num, den, args.iterations, args.seed, blocks=speakers))
        table.add_row(m.label, fmt_value(m, fig.value), *cis)
    console = wide_console()
    console.print(table)
    console.print(
        f"words: {ref_words} reference, {errors} errors = {w['substitutions']} substitutions + "
        f"{w['deletions']} deletions + {w['insertions']} insertions, {w['hits']} correct; "
        f"sentences with an error: {int(np.count_nonzero(_word_errors(values)))} of {len(ids)}",
        highlight=False, soft_wrap=True,
    )
    if missing:
        how = "scored as empty hypotheses" if args.missing_as_empty else "left out (--missing-as-empty scores them, as sclite)"
        console.print(f"{len(missing)} reference(s) without a hypothesis, e.g. {missing[0]!r}: {how}", highlight=False)
    return 0


def _word_errors(values):
    return values["substitutions"] + values["deletions"] + values["insertions"]


def _ci(iv) -> str:
    if iv.low is None or iv.high is None:
        return "-"
    return f"[{100 * iv.low:.2f}, {100 * iv.high:.2f}]"
