"""The HTML report: built from real runs and from a hand-made benchmark, checked in headless Chromium.

Chromium is Debian's package (`apt-get install -y chromium`, done by .ci/run). Each check reads
the DOM Chromium has after the report's own script ran (--dump-dom), so the utterance browser is
tested as a user sees it; a screenshot is kept under test-artifacts/.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import DEMO_ROOT, REPO, run_cli

from spectragram_bench.core import metrics
from spectragram_bench.core.models import (
    Benchmark,
    BootstrapResult,
    CostSummary,
    JobRun,
    LatencySample,
    MetricSummary,
    Model,
    Prediction,
    Utterance,
)
from spectragram_bench.core.models import Dataset as DatasetRow
from spectragram_bench.core.models import DatasetVariant as VariantRow
from spectragram_bench.core.models import Provider as ProviderRow
from spectragram_bench.core.normalize import BASIC
from spectragram_bench.core.persistence import open_database
from spectragram_bench.datasets.variants import variant_key, variant_label
from spectragram_bench.evaluations.v1.pipeline import evaluate_job_run
from spectragram_bench.reporting import plots
from spectragram_bench.reporting.alignment import DEL, HIT, INS, SUB, align_words, error_frequencies
from spectragram_bench.reporting.browser_data import decode_browser_data, json_for_script
from spectragram_bench.reporting.html import write_report
from spectragram_bench.reporting.leaderboard import StoredInterval, fmt_interval, leaderboard_rows

ARTIFACTS = REPO / "test-artifacts"
HOSTILE_LABEL = '<img src=x onerror="document.title=\'pwned-label\'">evil & co'
HOSTILE_HYP = "<script>document.title='pwned-hyp'</script> the birch <b>canoe</b> slid"
HOSTILE_ERROR = "<script>document.title='pwned-error'</script> HTTP 500"
SECRET = "sk-live-0123456789"


# -- a small DOM from Chromium's --dump-dom --------------------------------------------------------

class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.walk()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        return [
            n for n in self.walk()
            if (tag is None or n.tag == tag) and (cls is None or cls in n.classes)
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def by_id(self, element_id: str) -> Node | None:
        found = [n for n in self.walk() if n.attrs.get("id") == element_id]
        return found[0] if found else None


class DomBuilder(HTMLParser):
    VOID = {"meta", "link", "br", "img", "input", "hr", "source", "wbr", "col"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.cur)
        self.cur.children.append(node)
        if tag not in self.VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse_dom(html: str) -> Node:
    b = DomBuilder()
    b.feed(html)
    b.close()
    return b.root


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium is needed for the report tests: apt-get install -y chromium")


def browse(url: str, *, screenshot: Path | None = None) -> str:
    """The DOM after the page's scripts ran (or a screenshot), from a fresh headless Chromium."""
    with tempfile.TemporaryDirectory() as profile:
        args = [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--window-size=1400,2600", "--hide-scrollbars",
            "--virtual-time-budget=30000",  # until the page is idle: the browser's data decompresses asynchronously
        ]
        args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
        proc = subprocess.run([*args, url], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    if screenshot:
        assert screenshot.is_file() and screenshot.stat().st_size > 10_000, proc.stderr[-2000:]
    return proc.stdout


# -- a hand-made benchmark: noise variants, CIs, cost, streaming, failures and hostile text --------

REFS = [
    "the birch canoe slid on the smooth planks",
    "glue the sheet to the dark blue background",
    "it is easy to tell the depth of a well",
    "these days a chicken leg is a rare dish",
]
VARIANTS = [
    {"kind": "clean"}, {"kind": "noise", "snr_db": 0, "noise": "white"}, {"kind": "noise", "snr_db": 10, "noise": "white"},
    {"kind": "noise", "snr_db": 20, "noise": "white"}, {"kind": "noise", "snr_db": 5, "noise": "babble"},
]


def degrade(text: str, drops: int) -> str:
    words = text.split()
    return " ".join(w for i, w in enumerate(words) if i % 3 != 1 or i // 3 >= drops)


def build_benchmark(url: str) -> int:
    """Two systems over five variants (clean, white noise at three SNRs, babble); returns the benchmark id."""
    audio = sorted(str(p) for p in DEMO_ROOT.rglob("*.flac"))[: len(REFS)]
    db = open_database(url)
    with db.transaction() as s:
        prov = ProviderRow(name="mock", sdk="spectragram_bench.mock", sdk_version="1")
        s.add(prov)
        s.flush()
        m_batch = Model(provider_id=prov.provider_id, name="batch-model", params_hash="a",
                        params_json={"mode": "batch", "api_key": SECRET})
        m_stream = Model(provider_id=prov.provider_id, name="stream-model", params_hash="b", params_json={"mode": "streaming"})
        ds = DatasetRow(name="librispeech", source=str(DEMO_ROOT))
        s.add_all([m_batch, m_stream, ds])
        s.flush()
        bench = Benchmark(
            name="synthetic <i>bench</i>",
            config_json={"providers": [{"name": "mock", "params": {"api_key": SECRET}}],
                         "evaluation": {"normalizer": "basic", "bootstrap_seed": 7, "bootstrap_iterations": 100}},
        )
        s.add(bench)
        s.flush()
        runs = [
            JobRun(benchmark_id=bench.benchmark_id, provider_id=prov.provider_id, model_id=m_batch.model_id,
                   label=HOSTILE_LABEL, status="completed", env_json={"python": "3.11.7", "token": SECRET},
                   host_info_json={"cpu_count": 2}),
            JobRun(benchmark_id=bench.benchmark_id, provider_id=prov.provider_id, model_id=m_stream.model_id,
                   label="streamer", status="partial", env_json={"python": "3.11.7"}, host_info_json={"cpu_count": 2}),
        ]
        s.add_all(runs)
        s.flush()
        for vi, variant in enumerate(VARIANTS):
            var = VariantRow(dataset_id=ds.dataset_id, split="demo-clean", variant_key=variant_key(variant), variant_json=variant)
            s.add(var)
            s.flush()
            for ui, ref in enumerate(REFS):
                utt = Utterance(dataset_id=ds.dataset_id, variant_id=var.variant_id, external_id=f"utt-{ui}",
                                audio_path=audio[ui] if ui < 3 else "/nonexistent/utt-3.flac", ref_text=ref.upper(),
                                duration_s=2.0 + ui, speaker=f"spk{ui % 2}")
                s.add(utt)
                s.flush()
                drops = {0: 0, 1: 3, 2: 2, 3: 1, 4: 2}[vi]
                for ri, run in enumerate(runs):
                    failed = ri == 1 and vi == 0 and ui == 3
                    hyp = HOSTILE_HYP if (ri == 0 and vi == 0 and ui == 0) else degrade(ref, drops + ri)
                    s.add(Prediction(
                        job_run_id=run.job_run_id, utt_id=utt.utt_id, status="failed" if failed else "ok",
                        hyp_text=None if failed else hyp, error_kind="utterance" if failed else None,
                        error_text=HOSTILE_ERROR if failed else None, attempts=3 if failed else 1,
                    ))
                    if not failed:
                        api = 300.0 + 150 * ri + 40 * ui + 10 * vi
                        s.add(LatencySample(job_run_id=run.job_run_id, utt_id=utt.utt_id, api_time_ms=api,
                                            total_time_ms=api + 5, rtf=api / 1000 / (2.0 + ui),
                                            meta_json={"ttft_ms": 120.0 + ui} if ri == 1 else {}))
        s.flush()
        for run in runs:
            version = evaluate_job_run(s, run.job_run_id, BASIC)
            # known intervals (WER +- 0.05 utterance-level, +- 0.1 speaker-level) in place of any computed ones
            s.query(BootstrapResult).filter_by(job_run_id=run.job_run_id).delete()
            for ms in s.query(MetricSummary).filter_by(job_run_id=run.job_run_id, metric="wer", eval_version=version).all():
                ms.extra_json = {"steps": ["lowercase", "strip_punctuation"]}  # as evaluation v1 records them
                for method, half in (("speaker_percentile", 0.1), ("utterance_percentile", 0.05)):
                    s.add(BootstrapResult(job_run_id=run.job_run_id, dataset_id=ms.dataset_id, variant_id=ms.variant_id,
                                          metric="wer", ci_low=max(0.0, ms.value - half), ci_high=ms.value + half,
                                          iterations=100, method=method, seed=7, eval_version=version,
                                          extra_json={"confidence": 0.95}))
                if run.label == "streamer":
                    s.add(MetricSummary(job_run_id=run.job_run_id, dataset_id=ms.dataset_id, variant_id=ms.variant_id,
                                        metric="latency_ttft_ms_p50", value=121.5, eval_version=version, normalizer=BASIC.tag))
        s.add(CostSummary(job_run_id=runs[0].job_run_id, seconds_billed=4 * 14.0, price_usd=0.0336))
        bench_id = bench.benchmark_id
    db.dispose()
    return bench_id


@pytest.fixture
def synthetic(tmp_path: Path, sqlite_url: str) -> tuple[str, int, Path]:
    bench_id = build_benchmark(sqlite_url)
    out = tmp_path / "out" / "report.html"
    db = open_database(sqlite_url)
    write_report(db, bench_id, out)
    db.dispose()
    return sqlite_url, bench_id, out


# -- unit checks -----------------------------------------------------------------------------------

def test_alignment_columns_agree_with_metric_counts():
    rng = random.Random(3)
    vocab = "a b c d e f g the of to".split()
    refs = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 12))) for _ in range(400)]
    hyps = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 12))) for _ in range(400)]
    aligned = align_words(refs, hyps)
    for cols, counts, ref, hyp in zip(aligned, metrics.word_counts(refs, hyps), refs, hyps, strict=True):
        ops = [op for op, _, _ in cols]
        assert (ops.count(HIT), ops.count(SUB), ops.count(DEL), ops.count(INS)) == (
            counts.hits, counts.substitutions, counts.deletions, counts.insertions)
        assert [r for _, r, _ in cols if r is not None] == ref.split()
        assert [h for _, _, h in cols if h is not None] == hyp.split()


def test_error_frequencies_count_each_edit():
    freq = error_frequencies(align_words(["the cat sat", "the cat sat"], ["a cat sat down", "the cat"]))
    assert freq.substitutions == {("the", "a"): 1}
    assert freq.insertions == {"down": 1}
    assert freq.deletions == {"sat": 1}


def test_json_for_script_cannot_close_the_element():
    text = json_for_script({"h": "</script><script>alert(1)</script> & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"h": "</script><script>alert(1)</script> & \u2028"}


def test_chart_escapes_labels_and_places_points():
    chart = plots.Chart.create("c", "t <x>", "x", "y", (0, 100), (0, 1))
    chart.point(plots.Series("<b>sys</b>", 0), 50, 0.5, "tip <script>", y_low=0.4, y_high=0.6)
    svg = chart.render()
    assert "<b>" not in svg and "<script>" not in svg and "&lt;b&gt;sys&lt;/b&gt;" in svg
    cx = float(re.search(r'cx="([\d.]+)"', svg).group(1))
    assert cx == pytest.approx((chart.x.px_lo + chart.x.px_hi) / 2)
    assert plots.nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]


def test_interval_format_names_a_level_other_than_95():
    assert fmt_interval(StoredInterval("wer", "utterance_percentile", 0.1, 0.125, 1000, 0)) == "[10.00, 12.50]"
    assert fmt_interval(StoredInterval("wer", "utterance_percentile", 0.1, 0.125, 1000, 0, 0.9)) == "[10.00, 12.50] (90%)"
    assert fmt_interval(StoredInterval("wer", "utterance_percentile", None, None, 1000, 0)) == "-"


def test_leaderboard_reads_intervals_cost_and_ttft(synthetic):
    url, bench_id, _ = synthetic
    db = open_database(url)
    with db.session() as s:
        rows = leaderboard_rows(s, bench_id)
    db.dispose()
    assert len(rows) == 10  # 2 systems x 5 variants
    # variants clean first, then by label with numbers by value (white 0, 10, 20 dB; never 0, 10, 20, 5), lowest WER first in each
    assert list(dict.fromkeys(r.summary.variant for r in rows)) == [
        "clean", "noise babble 5 dB", "noise white 0 dB", "noise white 10 dB", "noise white 20 dB"]
    for variant in {r.summary.variant for r in rows}:
        wers = [r.wer for r in rows if r.summary.variant == variant]
        assert wers == sorted(wers)
    for r in rows:
        ci = r.interval("wer")
        assert ci is not None and ci.method == "utterance_percentile" and ci.seed == 7  # preferred over speaker
        assert ci.low == pytest.approx(max(0.0, r.wer - 0.05)) and ci.high == pytest.approx(r.wer + 0.05)
        assert [i.method for i in r.intervals_of("wer")] == ["utterance_percentile", "speaker_percentile"]
        assert fmt_interval(ci) != "-"
    evil = [r for r in rows if r.summary.system == HOSTILE_LABEL]
    streamer = [r for r in rows if r.summary.system == "streamer"]
    audio_h = sum(r.summary.metrics["audio_seconds"] for r in evil) / 3600
    assert all(r.usd_per_audio_hour == pytest.approx(0.0336 / audio_h) and r.cost_source == "cost_summary" for r in evil)
    assert all(r.usd_per_audio_hour is None for r in streamer)
    assert all(r.streaming and r.metric("ttft_p50") == 121.5 for r in streamer)
    assert all(not r.streaming for r in evil)


def test_report_has_no_secret_and_no_live_markup(synthetic):
    _, _, out = synthetic
    html = out.read_text(encoding="utf-8")
    data = json.dumps(decode_browser_data(html), ensure_ascii=False)  # the browser's data, decompressed
    assert SECRET not in html and SECRET not in data
    assert "***REDACTED***" in html
    assert "<img" not in html and "<b>canoe" not in html and "<i>bench" not in html
    assert "<b>canoe" in data or "canoe" in data  # hostile texts travel as data, shown with textContent
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts.count("<script>") == 1  # the report's own script; the rest are inert data blocks
    assert all(s == "<script>" or 'type="application/json"' in s or 'type="text/plain"' in s for s in scripts)
    assert "&lt;img src=x onerror=" in html  # the label, escaped, in the leaderboard


# -- in the browser --------------------------------------------------------------------------------

@pytest.mark.slow
def test_report_in_chromium_synthetic(synthetic):
    _, bench_id, out = synthetic
    ARTIFACTS.mkdir(exist_ok=True)
    browse(out.as_uri(), screenshot=ARTIFACTS / "report-synthetic.png")
    dom = parse_dom(browse(out.as_uri()))
    title = dom.find_all("title")[0].text()
    assert "pwned" not in title and "synthetic <i>bench</i>" in title
    # leaderboard: one row per system x variant, CIs and cost shown
    body_rows = [r for r in dom.by_id("leaderboard").find_all("tr") if "data-job-run" in r.attrs]
    assert len(body_rows) == 10
    texts = [[td.text() for td in r.find_all("td")] for r in body_rows]
    assert all(re.fullmatch(r"\[\d+\.\d\d, \d+\.\d\d\]", t[8]) for t in texts)
    titles = [r.find_all("td")[8].attrs["title"] for r in body_rows]
    assert all(t.startswith("utterance_percentile: [") and "; speaker_percentile: [" in t for t in titles)
    assert any(t[0] == HOSTILE_LABEL and t[15].startswith("$") for t in texts)
    assert any(t[0] == "streamer partial" and t[14] == "122" for t in texts)  # status badge when not completed
    assert dom.by_id("plots-missing") is None  # every plot has data
    # the four plots, with points
    for plot_id in ("plot-wer-latency", "plot-wer-snr-0", "plot-wer-snr-1", "plot-latency", "plot-cost-wer"):
        svg = dom.by_id(plot_id)
        assert svg is not None and svg.tag == "svg", plot_id
    assert len(dom.by_id("plot-wer-latency").find_all("g", cls="pt")) == 10
    # one SNR chart per kind of noise: babble (1 SNR) and white (3 SNRs), clean WER dashed in both
    babble, white = dom.by_id("plot-wer-snr-0"), dom.by_id("plot-wer-snr-1")
    assert "noise=babble" in babble.find_all("text", cls="ct")[0].text()
    assert "noise=white" in white.find_all("text", cls="ct")[0].text()
    assert len(babble.find_all("g", cls="pt")) == 2 and len(white.find_all("g", cls="pt")) == 6
    assert len([p for p in white.find_all("path", cls="ln") if "stroke-dasharray" in p.attrs]) == 2
    # latency distributions per system and variant, variants in numeric order (0, 10, 20 dB)
    latency = dom.by_id("plot-latency")
    assert len(latency.find_all("g", cls="box")) == 10
    rows = [n.find_all("title")[0].text() for n in latency.find_all("text", cls="tk") if n.find_all("title")][::-1]  # top row first
    white = [r.rsplit(" \u00b7 ", 1)[1] for r in rows if "noise white" in r]
    assert white == ["noise white 0 dB"] * 2 + ["noise white 10 dB"] * 2 + ["noise white 20 dB"] * 2, rows
    # the WER-vs-latency points are labelled with their system (where labels do not collide)
    labels = [n.text() for n in dom.by_id("plot-wer-latency").find_all("text", cls="pl")]
    assert labels and all(lbl.startswith(("streamer", HOSTILE_LABEL[:30])) for lbl in labels)
    assert len(dom.by_id("plot-cost-wer").find_all("g", cls="pt")) == 5
    # the alignment view: rendered by the page's script, markup shown as text
    browser = dom.by_id("browser")
    cards = browser.find_all("article", cls="utt")
    assert len(cards) == int(browser.attrs["data-shown"]) == 20
    assert browser.attrs["data-matching"] == "20"
    raws = [n.text() for n in browser.find_all("div", cls="raw")]
    assert any(HOSTILE_HYP in t for t in raws)
    assert any(HOSTILE_ERROR in n.text() for n in browser.find_all("div", cls="failed"))
    assert not browser.find_all("script") and not browser.find_all("img") and not browser.find_all("b")
    scripts = dom.find_all("script")
    assert len([n for n in scripts if not n.attrs.get("type")]) == 1  # nothing injected beside the report's own
    assert all(n.attrs.get("type") in (None, "application/json", "text/plain") for n in scripts)
    errors = [int(h.attrs["data-errors"]) for c in cards for h in c.find_all("div", cls="hyp") if "data-errors" in h.attrs]
    per_card = [sum(int(h.attrs.get("data-errors", 0)) for h in c.find_all("div", cls="hyp")) for c in cards]
    assert per_card == sorted(per_card, reverse=True) and max(errors) > 0  # most errors first
    assert browser.find_all("span", cls="s") and browser.find_all("span", cls="d")
    counts = [h.find_all("span", cls="cnt")[0].text() for c in cards for h in c.find_all("div", cls="hyp")]
    assert any(re.search(r"\d+ ms \u00b7 TTFT 12[0-3] ms$", t) for t in counts)  # streaming: time to first token
    links = [a.attrs["href"] for a in browser.find_all("a", cls="play")]
    assert links and all(not h.startswith(("data:", "/", "file:")) for h in links)
    assert all((out.parent / h).resolve().is_file() for h in links)
    # error analysis and reproducibility
    assert len(dom.find_all("section", cls="errs")) == 2
    repro = dom.by_id("s-repro").text()
    assert "basic@1: lowercase \u2192 strip_punctuation" in repro and "v2+basic@1" in repro
    assert "3.11.7" in repro and SECRET not in repro
    assert "utterance_percentile" in repro and "speaker_percentile" in repro


@pytest.mark.slow
def test_browser_filters_and_sorts_from_the_url(synthetic):
    url, bench_id, out = synthetic
    db = open_database(url)
    with db.session() as s:
        streamer = s.query(JobRun).filter_by(benchmark_id=bench_id, label="streamer").one().job_run_id
    db.dispose()
    dom = parse_dom(browse(f"{out.as_uri()}#utt?sys={streamer}&status=failed&sort=errors-asc"))
    browser = dom.by_id("browser")
    cards = browser.find_all("article", cls="utt")
    assert len(cards) == 1 and browser.attrs["data-matching"] == "1"
    hyps = cards[0].find_all("div", cls="hyp")
    assert [h.attrs["data-sys"] for h in hyps] == [str(streamer)] and hyps[0].attrs["data-failed"] == "1"
    dom = parse_dom(browse(f"{out.as_uri()}#utt?ds=1&sort=errors-asc"))  # groups in utt_id order: 1 = white 0 dB
    cards = dom.by_id("browser").find_all("article", cls="utt")
    assert len(cards) == 4
    groups = {c.find_all("span", cls="grp")[0].text() for c in cards}
    assert groups == {f"librispeech/demo-clean \u00b7 {variant_label(VARIANTS[1])}"}
    per_card = [sum(int(h.attrs.get("data-errors", 0)) for h in c.find_all("div", cls="hyp")) for c in cards]
    assert per_card == sorted(per_card)


@pytest.mark.slow
def test_run_writes_report_of_mock_benchmark_checked_in_chromium(tmp_path: Path):
    job = {
        "name": "mock-demo",
        "providers": [
            {"name": "mock", "model": "good", "params": {"substitution_rate": 0.05, "latency_ms": 2, "seed": 1}},
            {"name": "mock", "model": "noisy", "max_attempts": 1,
             "params": {"substitution_rate": 0.2, "deletion_rate": 0.05, "insertion_rate": 0.05, "error_rate": 0.15, "seed": 2}},
        ],
        "datasets": [{"name": "librispeech", "root": str(DEMO_ROOT), "subsets": ["demo-clean"]}],
        "evaluation": {"normalizer": "basic"},
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    proc = run_cli("run", "--config", "job.json", "--max-utt", "16", "--db", f"sqlite:///{tmp_path / 'b.db'}", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    match = re.search(r"^report: (.+)$", proc.stdout, re.M)
    assert match, proc.stdout
    report = Path(match.group(1))
    assert report == (tmp_path / "b-benchmark-1-report.html").resolve() and report.is_file()  # beside the database
    assert proc.stdout.splitlines()[-1].startswith("database:")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-mock-demo.png"
    browse(report.as_uri(), screenshot=shot)
    dom = parse_dom(browse(report.as_uri()))
    body_rows = [r for r in dom.by_id("leaderboard").find_all("tr") if "data-job-run" in r.attrs]
    assert [r.find_all("td")[0].text() for r in body_rows] == ["mock/good", "mock/noisy partial"]
    assert dom.by_id("plot-wer-latency") is not None and dom.by_id("plot-latency") is not None
    assert "no noise variants" in dom.by_id("plots-missing").text()
    # the mock provider is priced at $0 (core/pricing.py): the cost is shown, the plot of nothing but $0 is not
    assert [r.find_all("td")[15].text() for r in body_rows] == ["$0.000", "$0.000"]
    assert dom.by_id("plot-cost-wer") is None and "every system here costs $0" in dom.by_id("plots-missing").text()
    cards = dom.by_id("browser").find_all("article", cls="utt")
    assert len(cards) == 16
    assert all(len(c.find_all("div", cls="hyp")) == 2 for c in cards)
    # the same report on demand, to another path
    out = tmp_path / "elsewhere" / "r.html"
    proc = run_cli("report", "1", "--out", str(out), "--db", f"sqlite:///{tmp_path / 'b.db'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"report: {out.resolve()}" in proc.stdout and "mock/noisy" in proc.stdout and out.is_file()
    # and the benchmark is listed with its job runs' status (SQLite without concat(), too)
    proc = run_cli("list", "--db", f"sqlite:///{tmp_path / 'b.db'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    listed = [line for line in proc.stdout.splitlines() if "mock/" in line]
    assert len(listed) == 2 and "mock-demo" in listed[0] and "v2+basic@1" in listed[0]
    assert "completed" in listed[0] and re.search(r"\b(partial|completed)\b", listed[1])


def test_report_of_unknown_benchmark_is_one_error_line(tmp_path: Path):
    proc = run_cli("report", "42", "--db", f"sqlite:///{tmp_path / 'b.db'}", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: benchmark 42 not found in {(tmp_path / 'b.db').resolve()}"]


@pytest.mark.postgres
def test_report_renders_on_postgres(pg_url: str, tmp_path: Path):
    bench_id = build_benchmark(pg_url)
    db = open_database(pg_url)
    path = write_report(db, bench_id, tmp_path / "pg.html")
    with db.session() as s:
        n_rows = len(leaderboard_rows(s, bench_id))
    db.dispose()
    html = path.read_text(encoding="utf-8")
    assert n_rows == 10 and html.count('<tr data-job-run="') >= 10 and SECRET not in html


def test_report_of_a_benchmark_without_scores(sqlite_url: str, tmp_path: Path):
    """A job run that failed before any prediction still gets a report that says so."""
    db = open_database(sqlite_url)
    with db.transaction() as s:
        prov = ProviderRow(name="deepgram")
        s.add(prov)
        s.flush()
        model = Model(provider_id=prov.provider_id, name="nova-3", params_hash="x", params_json={"mode": "batch"})
        bench = Benchmark(name="empty", config_json={})
        s.add_all([model, bench])
        s.flush()
        s.add(JobRun(benchmark_id=bench.benchmark_id, provider_id=prov.provider_id, model_id=model.model_id,
                     status="failed", error_text="HTTP 401: invalid credentials <key>"))
        bench_id = bench.benchmark_id
    html = write_report(db, bench_id, tmp_path / "r.html").read_text(encoding="utf-8")
    db.dispose()
    assert "No scored results" in html and "HTTP 401: invalid credentials &lt;key&gt;" in html
    assert "no system has both a WER and a p95 latency" in html and "no latency samples stored" in html
    assert decode_browser_data(html)["utts"] == []


def test_normaliser_of_an_eval_version_is_redone_only_when_identical():
    from spectragram_bench.reporting.predictions import resolve_normalizer

    assert resolve_normalizer("basic@1").exact and resolve_normalizer("basic@1").normalizer is BASIC
    older = resolve_normalizer("basic@0")
    assert not older.exact and "this install has basic@1" in older.note
    assert "not installed" in resolve_normalizer("gone@1").note
    assert "no normaliser recorded" in resolve_normalizer(None).note
