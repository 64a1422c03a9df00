"""docs/extending.md's worked dataset example, followed as written: its code, its job options."""

from __future__ import annotations

import re
import sys
import types

import pytest
from conftest import REPO
from fixtures.corpora import write_audio

from spectragram_bench.core.config import parse_config
from spectragram_bench.core.errors import DatasetError
from spectragram_bench.core.registry import DATASETS
from spectragram_bench.worker.plan import build_plan


def example_loader():
    doc = (REPO / "docs" / "extending.md").read_text()
    section = doc.split("## Adding a dataset", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    module = types.ModuleType("spectragram_bench.datasets.wav_txt")
    sys.modules[module.__name__] = module
    exec(compile(code, "docs/extending.md", "exec"), module.__dict__)
    line = re.search(r'"wav_txt": "([^"]+)"', section).group(1)
    assert line == "spectragram_bench.datasets.wav_txt:WavTxt"
    return module.WavTxt


def test_the_documented_dataset_example_works_as_written(tmp_path):
    DATASETS.register("wav_txt", example_loader())
    for i, text in enumerate(["guten morgen", "danke schön", ""]):
        (tmp_path / "test").mkdir(exist_ok=True)
        (tmp_path / "test" / f"spk{i % 2}_{i:04d}.txt").write_text(text)
        if i != 1:
            write_audio(tmp_path / "test" / f"spk{i % 2}_{i:04d}.wav", 0.5, seed=i)
    job = {"name": "x", "providers": [{"name": "mock"}],
           "datasets": [{"name": "wav_txt", "root": str(tmp_path), "subsets": ["test"],
                         "options": {"language": "de", "speaker_from_prefix": True}}]}
    plan = build_plan(parse_config(job))
    recs = {u.record.external_id: u.record for u in plan.utterances}
    assert recs["spk0_0000"].speaker == "spk0" and recs["spk0_0000"].language == "de"
    assert recs["spk0_0000"].duration_s == pytest.approx(0.5)
    assert "audio file not found" in recs["spk1_0001"].meta["load_error"]  # the missing .wav: its input failure
    assert "empty transcript" in recs["spk0_0002"].meta["load_error"]
    job["datasets"][0]["options"] = {"lang": "de"}
    with pytest.raises(DatasetError, match="dataset 'wav_txt': options.lang: Extra inputs are not permitted"):
        build_plan(parse_config(job))
