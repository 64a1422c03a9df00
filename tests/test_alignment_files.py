"""Published word alignments as a dataset option (`"options": {"alignments": PATH}`): CTM files as
Kaldi and sclite write them, and Praat TextGrids in the Montreal Forced Aligner's layout, attached
to any loader's utterances by id; bad input is one warning line naming file and line, and a
streaming job measures from the file's span (or from the VAD, saying why, where it has none)."""

from __future__ import annotations

import json
import logging

import pytest
from conftest import run_cli
from fakes.fake_assemblyai_live import FakeAssemblyAILive
from fakes.harness import rows
from fakes.live_base import StreamScript
from fixtures.corpora import make_jsonl, make_librispeech, write_audio

from spectragram_bench.core.config import parse_config
from spectragram_bench.core.errors import DatasetError
from spectragram_bench.datasets.alignments import Alignments
from spectragram_bench.datasets.librispeech import LibriSpeech
from spectragram_bench.datasets.manifest import JsonLinesManifest
from spectragram_bench.datasets.textgrid import AlignmentError, textgrid_words


def mfa_textgrid(words: list[tuple[str, float, float]], xmax: float, speaker: str | None = None) -> str:
    """A TextGrid as MFA writes it (praatio's long format: 4-space indents, a space before each
    line end, empty-text intervals filling the silences, a words tier then a phones tier)."""

    def num(v: float) -> str:  # praatio's numToStr: 0, 2.6
        return str(int(v)) if v == int(v) else repr(v)

    def tier(n: int, name: str, entries: list[tuple[float, float, str]]) -> list[str]:
        filled, t = [], 0.0
        for start, end, text in entries:
            if start > t:
                filled.append((t, start, ""))
            filled.append((start, end, text))
            t = end
        if t < xmax:
            filled.append((t, xmax, ""))
        out = [f"    item [{n}]:", '        class = "IntervalTier" ', f'        name = "{name}" ',
               "        xmin = 0 ", f"        xmax = {xmax} ", f"        intervals: size = {len(filled)} "]
        for k, (start, end, text) in enumerate(filled, 1):
            out += [f"        intervals [{k}]:", f"            xmin = {num(start)} ", f"            xmax = {num(end)} ",
                    '            text = "' + text.replace('"', '""') + '" ']
        return out

    prefix = f"{speaker} - " if speaker else ""
    phones = [(s, e, "AH0") for _, s, e in words]
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0 ", f"xmax = {xmax} ",
             "tiers? <exists> ", "size = 2 ", "item []: ",
             *tier(1, f"{prefix}words", [(s, e, w) for w, s, e in words]), *tier(2, f"{prefix}phones", phones)]
    return "\n".join(lines) + "\n"


SHORT = """File type = "ooTextFile"
Object class = "TextGrid"

0
1.6
<exists>
1
"IntervalTier"
"words"
0
1.6
3
0
0.25
""
0.25
0.9
"hello"
0.9
1.6
""
"""


def test_a_textgrid_as_mfa_writes_it_gives_its_words_without_the_silences(tmp_path):
    path = tmp_path / "1089-134686-0000.TextGrid"
    path.write_text(mfa_textgrid([("he", 0.82, 1.03), ("said", 1.03, 1.4), ('"hope"', 1.5, 2.01)], 2.6))
    assert textgrid_words(path) == [{"word": "he", "start": 0.82, "end": 1.03}, {"word": "said", "start": 1.03, "end": 1.4},
                                    {"word": '"hope"', "start": 1.5, "end": 2.01}]
    path.write_text(mfa_textgrid([("hi", 0.2, 0.5)], 1.0, speaker="1089"))  # several speakers: "<speaker> - words"
    assert textgrid_words(path) == [{"word": "hi", "start": 0.2, "end": 0.5}]
    path.write_bytes(mfa_textgrid([("hé", 0.2, 0.5)], 1.0).encode("utf-16"))  # Praat's own choice for non-ASCII
    assert textgrid_words(path) == [{"word": "hé", "start": 0.2, "end": 0.5}]
    path.write_text(SHORT)  # the short text format reads the same
    assert textgrid_words(path) == [{"word": "hello", "start": 0.25, "end": 0.9}]


@pytest.mark.parametrize(("edit", "line", "says"), [
    (lambda t: t.replace("xmax = 1.4 ", "xmax = 1,4 "), 25, "expected the xmax of interval 3 of tier 'words', found '1,4'"),
    (lambda t: t.replace('name = "words"', 'name = "word"'), None, "no IntervalTier named \"words\" (tiers: 'word', 'phones')"),
    (lambda t: t.replace("intervals: size = 4 ", "intervals: size = 7 ", 1), 32, "expected the xmin of interval 5 of tier 'words', found the string 'IntervalTier'"),
    (lambda t: t.replace("xmax = 1.4 ", "xmax = 0.5 "), 24, "interval 1.03..0.5 of tier 'words' is not a time span"),
    (lambda t: t.replace('"said"', '"said'), None, "a string that is never closed"),
    (lambda t: t.split("item []:")[0], 7, "the file ends before the class of tier 1"),
    (lambda t: 'File type = "ooBinaryFile"\n', 1, "not a Praat text file"),
])
def test_a_malformed_textgrid_is_one_line_naming_file_and_line(tmp_path, edit, line, says):
    path = tmp_path / "u.TextGrid"
    path.write_text(edit(mfa_textgrid([("he", 0.82, 1.03), ("said", 1.03, 1.4)], 2.6)))
    with pytest.raises(AlignmentError) as exc:
        textgrid_words(path)
    message = str(exc.value)
    assert "\n" not in message and says in message, message
    assert message.startswith(f"{path}:{line}:" if line else f"{path}"), message


CTM = """;; Kaldi steps/get_ctm.sh, then a line sclite's alternation tags would add
1089-134686-0000 1 0.82 0.21 HE 0.99
1089-134686-0000 1 1.03 0.37 SAID -2.5
1089-134686-0000 1 1.40 0.10 <eps>
1089-134686-0000 A * * <ALT_BEGIN>
1089-134686-0000 1 1.50 0.51 HOPE

1089-134686-0001 1 0.30 0.40 STUFF
"""


def test_ctm_lines_become_the_utterances_words(tmp_path):
    path = tmp_path / "test-clean.ctm"
    path.write_text(CTM)
    words, first, broken = Alignments(str(path), "t").ctm()
    assert words["1089-134686-0000"] == [
        {"word": "HE", "start": 0.82, "end": 1.03, "confidence": 0.99},
        {"word": "SAID", "start": 1.03, "end": 1.4, "confidence": -2.5},
        {"word": "HOPE", "start": 1.5, "end": 2.01},
    ]
    assert first == {"1089-134686-0000": 2, "1089-134686-0001": 8} and broken == {}


def _ls(tmp_path, utts, seconds: float = 1.6):
    root = make_librispeech(tmp_path, {"test-clean": [(u, "HELLO THERE") for u in utts]})
    for seed, u in enumerate(utts):  # long enough to stream a final after the speech end
        spk, chap, _ = u.split("-")
        write_audio(root / "test-clean" / spk / chap / f"{u}.flac", seconds, seed=seed)
    return root


def _write_grids(folder, grids: dict[str, str]) -> None:
    for utt, text in grids.items():
        spk, chap, _ = utt.split("-")  # MFA mirrors the audio tree: <speaker>/<chapter>/<utt>.TextGrid
        (folder / spk / chap).mkdir(parents=True, exist_ok=True)
        (folder / spk / chap / f"{utt}.TextGrid").write_text(text)


def test_bad_input_is_a_warning_line_each_and_the_rest_still_loads(tmp_path, caplog):
    root = _ls(tmp_path, ["11-100-0000", "11-100-0001", "11-100-0002", "11-100-0003"], 0.6)
    ctm = tmp_path / "a.ctm"
    ctm.write_text("11-100-0000 1 0.1 0.3 HELLO\n11-100-0001 1 0.1 x HELLO\n11-100-0002 1 0.1\n"
                   "99-1-0000 1 0 1 ELSEWHERE\n")
    caplog.set_level(logging.WARNING)
    ds = LibriSpeech(str(root), [], {"alignments": str(ctm)})
    recs = {r.external_id: r for r in ds.utterances()}
    list(ds.utterances())  # the plan reads a dataset several times: each line is said once
    assert recs["11-100-0000"].meta["words"] == [{"word": "HELLO", "start": 0.1, "end": 0.4}]
    assert recs["11-100-0001"].meta["alignment_error"] == f"{ctm}:2: duration 'x' is not a number of seconds"
    assert recs["11-100-0002"].meta["alignment_error"].startswith(f"{ctm}:3: 3 fields, a CTM line is '<utterance> <channel>")
    assert recs["11-100-0003"].meta["alignment_error"] == f"no alignment for '11-100-0003' in {ctm}"
    assert all("words" not in recs[u].meta for u in ("11-100-0001", "11-100-0002", "11-100-0003"))
    lines = [r.getMessage() for r in caplog.records if r.name == "spectragram_bench.datasets.alignments"]
    assert all("\n" not in line for line in lines) and len(lines) == 4, lines
    assert lines[0].startswith(f"alignments {ctm}:2: duration 'x'") and lines[1].startswith(f"alignments {ctm}:3: 3 fields")
    assert lines[2] == f"alignments {ctm}:4: utterance '99-1-0000' is not in dataset 'librispeech'"
    assert lines[3].startswith(f"alignments {ctm}: no alignment for 1 of 4 utterances of dataset 'librispeech' (11-100-0003)")
    with pytest.raises(DatasetError, match=r"options.alignments: '.*nowhere.ctm' does not exist"):
        LibriSpeech(str(root), [], {"alignments": str(tmp_path / "nowhere.ctm")})
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"options.alignments: no .TextGrid files under"):
        list(LibriSpeech(str(root), [], {"alignments": str(tmp_path / "empty")}).utterances())


def test_textgrids_attach_to_any_loader_by_id_or_audio_name_and_a_bad_one_is_named(tmp_path, caplog):
    grids = tmp_path / "mfa"
    _write_grids(grids, {"11-100-0000": mfa_textgrid([("hello", 0.3, 0.5)], 0.6),
                         "11-100-0001": mfa_textgrid([("there", 0.1, 0.2)], 0.6).replace("xmax = 0.2 ", "xmax = ? ")})
    (grids / "clip7.TextGrid").write_text(mfa_textgrid([("manifest", 0.25, 0.75)], 1.0))
    caplog.set_level(logging.WARNING)
    recs = {r.external_id: r for r in LibriSpeech(str(_ls(tmp_path, ["11-100-0000", "11-100-0001"], 0.6)), [],
                                                  {"alignments": str(grids)}).utterances()}
    assert recs["11-100-0000"].meta["words"] == [{"word": "hello", "start": 0.3, "end": 0.5}]
    assert recs["11-100-0000"].meta["words_source"] == str(grids)
    bad = grids / "11" / "100" / "11-100-0001.TextGrid"
    assert recs["11-100-0001"].meta["alignment_error"].startswith(f"{bad}:21: expected the xmax of interval 2")
    assert any(r.getMessage().startswith(f"alignments {bad}:21:") for r in caplog.records)
    # a manifest: looked up by the audio file's name when the id is not a TextGrid's; the file's words win
    manifest = make_jsonl(tmp_path / "m", [{"audio_filepath": "clip7.wav", "text": "a", "utt_id": "m-1",
                                            "words": [{"word": "old", "start": 0.0, "end": 0.1}]}])
    (rec,) = JsonLinesManifest(str(manifest), [], {"alignments": str(grids)}).utterances()
    assert rec.meta["words"] == [{"word": "manifest", "start": 0.25, "end": 0.75}]


def test_a_relative_alignments_path_is_the_job_files_like_the_root(tmp_path):
    config = parse_config({"providers": [{"name": "mock"}],
                           "datasets": [{"name": "librispeech", "root": "ls", "options": {"alignments": "align/a.ctm"}}]},
                          base_dir=tmp_path)
    assert config.datasets[0].options["alignments"] == str(tmp_path / "align" / "a.ctm")


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["textgrid", "ctm"])
def test_a_streaming_job_measures_from_the_alignment_file(tmp_path, layout):
    """LibriSpeech with published alignments, streamed to the AssemblyAI fake, which finals 300 ms
    after it has 1000 ms of audio. The aligned utterance ends speaking at 1.0 s by its file, so its
    finalization is about 300 ms (from the VAD's end, ~1.6 s here, it would be about -300); the one
    the file lacks, and the one whose entry is broken, are measured from the VAD and say why."""
    utts = ["11-100-0000", "11-100-0001", "11-100-0002"]
    root = _ls(tmp_path, utts)
    if layout == "textgrid":
        alignments = tmp_path / "librispeech_alignments" / "test-clean"
        _write_grids(alignments, {"11-100-0000": mfa_textgrid([("hello", 0.25, 0.6), ("there", 0.6, 1.0)], 1.6),
                                  "11-100-0002": mfa_textgrid([("x", 0.2, 0.4)], 1.6).replace('"words"', '"wordz"')})
        broken = f"{alignments / '11' / '100' / '11-100-0002.TextGrid'}: no IntervalTier named \"words\""
    else:
        alignments = tmp_path / "test-clean.ctm"
        alignments.write_text("11-100-0000 1 0.25 0.35 HELLO 1.00\n11-100-0000 1 0.60 0.40 THERE 0.93\n"
                              "11-100-0002 1 0.20 -0.2 X\n")
        broken = f"{alignments}:3: negative duration"
    with FakeAssemblyAILive() as server:
        server.script = StreamScript(speech_end_ms=1000.0, final_delay_ms=300.0, partial_every_ms=200)
        job = {"name": f"published-{layout}",
               "providers": [{"name": "assemblyai", "model": "universal-streaming-english", "mode": "streaming",
                              "base_url": server.base_url, "params": {"speech_span": "alignment", "pace": 2}}],
               "datasets": [{"name": "librispeech", "root": str(root), "options": {"alignments": str(alignments)}}],
               "evaluation": {"normalizer": "basic", "bootstrap_iterations": 20}}
        (tmp_path / "job.json").write_text(json.dumps(job))
        db = tmp_path / "b.db"
        result = run_cli("--config", str(tmp_path / "job.json"), "--db", f"sqlite:///{db}",
                         env={"ASSEMBLYAI_API_KEY": server.api_key})
    assert result.returncode == 0, result.stderr
    assert f"WARNING alignments {broken}" in result.stderr
    assert "no alignment for 1 of 3 utterances of dataset 'librispeech' (11-100-0001)" in result.stderr
    metas = {r["external_id"]: json.loads(r["meta_json"]) for r in rows(
        db, "SELECT u.external_id, l.meta_json FROM latency_sample l JOIN utterance u ON u.utt_id = l.utt_id")}
    assert sorted(metas) == utts
    assert metas["11-100-0000"]["speech_span"] == {"start_ms": 250.0, "end_ms": 1000.0, "source": "alignment"}
    assert 250 <= metas["11-100-0000"]["finalization_ms"] <= 600
    missing, bad = metas["11-100-0001"]["speech_span"], metas["11-100-0002"]["speech_span"]
    assert missing["source"] == bad["source"] == "vad" and missing["detector"] == "silero-vad"
    assert missing["fallback"] == f"no usable word alignment: no alignment for '11-100-0001' in {alignments}"
    assert bad["fallback"].startswith(f"no usable word alignment: {broken}")
