"""docs/extending.md followed as written: its code blocks saved as the modules it names (in a
temp dir), registered with the registry lines it shows, and one tiny job run through them.

The Acme provider talks real HTTP to the doc's own fake Acme server; the wav_txt dataset reads
clips written in its layout; the ins_rate and filler_rate metrics score the run; the "slowest"
section appears in the report. A change that breaks an example in the doc fails here.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from conftest import REPO
from fixtures.corpora import write_audio

from spectragram_bench.core import pricing
from spectragram_bench.core.config import parse_config
from spectragram_bench.core.persistence import open_database
from spectragram_bench.core.registry import DATASETS, PROVIDERS
from spectragram_bench.evaluations import registry as metric_registry
from spectragram_bench.reporting import sections
from spectragram_bench.reporting.html import write_report
from spectragram_bench.reporting.leaderboard import leaderboard_rows

DOC = (REPO / "docs" / "extending.md").read_text()


def section(title: str) -> str:
    return DOC.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def python_block(text: str, marker: str) -> str:
    found = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if marker in b]
    assert len(found) == 1, f"one python block with {marker!r} in docs/extending.md, found {len(found)}"
    return found[0]


def registry_line(text: str, name: str) -> str:
    """The `"name": "module:Class"` line the doc says to add to core/registry.py."""
    return re.search(rf'^\s*"{name}": "([^"]+)",?$', text, re.M).group(1)


def save_and_import(tmp: Path, module_name: str, code: str):
    """The block saved as the file the doc names, imported under that module name."""
    path = tmp / (module_name.replace(".", "/") + ".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(code)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def followed(tmp_path, monkeypatch):
    """Every example of the doc loaded and registered; undone afterwards so other tests see none."""
    metric_registry.all_metrics()  # built-ins loaded first (once per process), so the restore keeps them
    before = (dict(metric_registry.METRICS), dict(metric_registry.VALUE_SETS), dict(sections.SECTIONS))
    code = tmp_path / "code"
    provider = section("Adding a provider")
    acme = save_and_import(code, "spectragram_bench.providers.acme", python_block(provider, "class AcmeProvider"))
    fake = save_and_import(code, "fakes.fake_acme", python_block(provider, "class FakeAcme"))
    assert registry_line(provider, "acme") == "spectragram_bench.providers.acme:AcmeProvider"
    PROVIDERS.register("acme", registry_line(provider, "acme"))
    price_line = re.search(r'^\s*(\("acme",.*\)),$', provider, re.M).group(1)
    monkeypatch.setattr(pricing, "DEFAULT_PRICES", [eval(price_line, vars(pricing)), *pricing.DEFAULT_PRICES])  # noqa: S307 - the doc's own line
    dataset = section("Adding a dataset")
    save_and_import(code, "spectragram_bench.datasets.wav_txt", python_block(dataset, "class WavTxt"))
    DATASETS.register("wav_txt", registry_line(dataset, "wav_txt"))
    metric = section("Adding a metric")
    save_and_import(code, "doc_metric_ins_rate", python_block(metric, '"ins_rate"'))
    save_and_import(code, "doc_metric_fillers", python_block(metric, '"fillers"'))
    report = section("Adding a report section")
    save_and_import(code, "spectragram_bench.reporting.slowest", python_block(report, "register_section("))
    server = fake.FakeAcme().start()
    monkeypatch.setenv("ACME_API_KEY", server.api_key)
    yield server, acme
    server.stop()
    metric_registry.METRICS.clear()
    metric_registry.METRICS.update(before[0])
    metric_registry.VALUE_SETS.clear()
    metric_registry.VALUE_SETS.update(before[1])
    sections.SECTIONS.clear()
    sections.SECTIONS.update(before[2])
    for name in ("spectragram_bench.providers.acme", "fakes.fake_acme", "spectragram_bench.reporting.slowest",
                 "doc_metric_ins_rate", "doc_metric_fillers"):
        sys.modules.pop(name, None)


def test_the_four_examples_run_one_job_as_the_doc_says(followed, tmp_path):
    from fakes.server import audio_key

    from spectragram_bench.worker.job_runs import run_benchmark

    server, _acme = followed
    clips = tmp_path / "clips" / "test"
    clips.mkdir(parents=True)
    said = {"spk1_0000": ("hello world", "uh hello world"), "spk1_0001": ("good morning", "good morning um today"),
            "spk2_0002": ("thank you", "thank you")}
    for i, (uid, (ref, hyp)) in enumerate(said.items()):
        write_audio(clips / f"{uid}.wav", 0.6, seed=i)
        (clips / f"{uid}.txt").write_text(ref)
        server.transcripts[audio_key((clips / f"{uid}.wav").read_bytes())] = hyp
    config = parse_config({
        "name": "extending-doc",
        "providers": [{"name": "acme", "model": "acme-2", "base_url": server.base_url, "max_attempts": 1}],
        "datasets": [{"name": "wav_txt", "root": str(tmp_path / "clips"), "subsets": ["test"],
                      "options": {"speaker_from_prefix": True}}],
        "evaluation": {"normalizer": "basic", "bootstrap_iterations": 50, "metrics": ["wer", "ins_rate", "filler_rate"]},
    })
    db = open_database(f"sqlite:///{tmp_path / 'doc.db'}")
    outcome = run_benchmark(config, db, progress="none")
    assert [r.path for r in server.requests] == ["/v1/transcribe"] * 3
    assert all(r.query_dict()["model"] == ["acme-2"] for r in server.requests)
    with db.session() as s:
        (row,) = leaderboard_rows(s, outcome.benchmark_id)
    # hand-computed: 3 insertions (uh, um, today) over 6 reference words; 2 fillers over 9 hypothesis words
    assert row.metric("wer") == pytest.approx(3 / 6)
    assert row.metric("ins_rate") == pytest.approx(3 / 6)
    assert row.metric("filler_rate") == pytest.approx(2 / 9)
    assert row.usd_per_audio_hour == pytest.approx(0.004 * 60)  # the doc's price row, billed_s from the fake
    report = write_report(db, outcome.benchmark_id, tmp_path / "report.html")
    db.dispose()
    html = report.read_text()
    ids = re.findall(r'<section id="s-([a-z]+)">', html)
    assert ids.index("slowest") == ids.index("errors") + 1  # where `after="errors"` puts it
    assert '<a href="#s-slowest">Slowest utterances</a>' in html
    table = html.split('id="slowest"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 1 + 3 and "spk1_0001" in table
    assert ">Ins rate<" in html and ">Fillers<" in html  # leaderboard columns from the registry


def test_a_section_must_follow_a_section_that_exists():
    from spectragram_bench.core.errors import ConfigError

    with pytest.raises(ConfigError, match="after='nowhere' names no section"):
        sections.register_section("x", "X", after="nowhere")
    with pytest.raises(ConfigError, match="built-in section's id"):
        sections.register_section("plots", "Plots again")
