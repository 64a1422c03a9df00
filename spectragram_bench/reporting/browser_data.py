"""The utterance browser's data: every utterance with each system's hypothesis, alignment,
per-utterance values of every metric, and failure, compressed into the page.

A 100k-utterance benchmark is tens of MB of JSON, so the page carries it gzip-compressed and
base64-encoded, decompressed by the browser's own `DecompressionStream`, in two parts:

- the index (one block): per utterance what filtering and sorting need (group, id, reference,
  duration, speaker, play link, and per system ok / errors / reference words);
- the details, in pages of CHUNK utterances (one block each): per utterance and system the raw
  hypothesis, the alignment, latencies, other values, the streaming timeline or the failure.
  The browser decompresses only the pages it shows.

It is built while the predictions are walked, one page of details at a time. Play links name
their folder by index into `dirs` (a corpus has few folders and many files).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spectragram_bench.datasets.variants import variant_label
from spectragram_bench.reporting import plots, streaming_report
from spectragram_bench.reporting.display import clip, clip_encoded
from spectragram_bench.reporting.predictions import ScoredPrediction
from spectragram_bench.reporting.report_audio import AudioLinks

#: utterances per page of details
CHUNK = 500


def pack(data: Any) -> str:
    """JSON, gzip-compressed, base64: what the page's script decompresses."""
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")


class ArrayPacker:
    """A JSON array gzip-compressed as its items come, packed as `pack` would: the index of a
    100k-utterance benchmark is never held whole."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: the gzip container
        self._parts = [self._z.compress(b"[")]
        self.n = 0

    def extend(self, items: Iterable[Any]) -> None:
        items = list(items)
        if items:  # one dump of the list without its brackets: the same text as one dump per item
            text = json.dumps(items, ensure_ascii=False, separators=(",", ":"), allow_nan=False)[1:-1]
            self._parts.append(self._z.compress((("," if self.n else "") + text).encode("utf-8")))
            self.n += len(items)

    def finish(self) -> str:
        self._parts += [self._z.compress(b"]"), self._z.flush()]
        return base64.b64encode(b"".join(self._parts)).decode("ascii")


def unpack(text: str) -> Any:
    return json.loads(gzip.decompress(base64.b64decode(text)))


@dataclass
class BrowserData:
    meta: dict[str, Any]  # systems, groups, dirs, chunk size, count
    index: str  # packed list of utterances
    pages: list[str] = field(default_factory=list)  # packed lists of details, CHUNK utterances each

    @property
    def n_utts(self) -> int:
        return int(self.meta["n"])

    def html(self) -> str:
        """The data elements of the page (none of it is markup: base64 and escaped JSON)."""
        pages = "".join(f'<script type="text/plain" class="utt-page">{p}</script>' for p in self.pages)
        return (f'<script type="application/json" id="utt-data">{json_for_script(self.meta)}</script>'
                f'<script type="text/plain" id="utt-index">{self.index}</script>{pages}')


def _hypothesis(sp: ScoredPrediction) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what the index keeps, what the details page keeps) of one system's hypothesis."""
    p = sp.prediction
    if not (sp.ok and sp.words is not None):
        return {"ok": 0}, {"err": clip(f"{p.error_kind or 'error'}: {p.error_text or ''}"), "att": p.attempts}
    w = sp.words
    lat = sp.latency
    ttft = sp.ttft_ms
    detail: dict[str, Any] = {
        "s": w.substitutions, "d": w.deletions, "i": w.insertions,
        "raw": clip(p.hyp_text or ""), "cols": clip_encoded(sp.columns or []),
        "ms": round(lat.api_time_ms, 1) if lat is not None and lat.api_time_ms is not None else None,
        "t": round(ttft, 1) if ttft is not None else None,
    }
    extra = {k: round(v, 4) for k, v in sp.values.items() if v is not None}  # the counts are s/d/i
    if extra:
        detail["v"] = dict(sorted(extra.items()))
    if lat is not None and lat.meta_json and "timeline" in lat.meta_json:
        detail["st"] = streaming_report.timeline_entry(lat.meta_json)
    return {"ok": 1, "e": w.errors, "n": w.ref_len}, detail


def browser_data(
    systems: list, preds: Iterable[ScoredPrediction], out_dir: Path, clips_dir: Path | None = None,
    variant_audio: dict[int, str] | None = None,
) -> BrowserData:
    """`preds` ordered by utterance (as reporting/predictions.py gives them); `variant_audio`:
    utt_id -> link to the utterance as the model heard it (`report --variant-audio`)."""
    links = AudioLinks(out_dir, clips_dir or out_dir / "report-audio")
    groups: dict[str, int] = {}
    group_of: dict[int, int] = {}
    dirs: dict[str, int] = {}
    index = ArrayPacker()
    entries: list[dict[str, Any]] = []  # the index entries of the current page
    pages: list[str] = []
    page: list[dict[str, Any]] = []
    last: int | None = None
    for sp in preds:
        u = sp.utterance
        if u.utt_id != last:
            if len(page) == CHUNK:
                pages.append(pack(page))
                index.extend(entries)
                page, entries = [], []
            last = u.utt_id
            if u.variant_id not in group_of:  # a label per variant, not per utterance
                label = f"{sp.dataset}/{sp.split} \u00b7 {variant_label(sp.variant_json)}"
                group_of[u.variant_id] = groups.setdefault(label, len(groups))
            href = links.href(u.utt_id, u.audio_path, u.meta_json)
            folder, _, name = href.rpartition("/") if href else ("", "", None)
            entries.append({
                "g": group_of[u.variant_id], "id": u.external_id,
                "a": [dirs.setdefault(folder, len(dirs)), name] if name is not None else None,
                "src": sp.variant_json.get("kind", "clean") != "clean",
                "dur": round(u.duration_s, 2) if u.duration_s is not None else None,
                "spk": u.speaker, "ref": clip(u.ref_text), "h": {},
            })
            if variant_audio and u.utt_id in variant_audio:
                entries[-1]["va"] = variant_audio[u.utt_id]
            page.append({})
        summary, detail = _hypothesis(sp)
        run = str(sp.prediction.job_run_id)
        entries[-1]["h"][run] = summary
        page[-1][run] = detail
    if page:
        pages.append(pack(page))
        index.extend(entries)
    meta = {
        "systems": [{"id": str(s.id), "name": s.name, "c": plots.colour(s.series.index)} for s in systems],
        "groups": list(groups), "dirs": list(dirs), "chunk": CHUNK, "n": index.n,
    }
    return BrowserData(meta, index.finish(), pages)


def decode_browser_data(html: str) -> dict[str, Any]:
    """The browser's data read back from a report, as one object (`utts`: each utterance with its
    play link and every system's full entry): what the page's script sees, for checks and tools."""
    meta = json.loads(re.search(r'<script type="application/json" id="utt-data">(.*?)</script>', html, re.S).group(1))
    utts = unpack(re.search(r'<script type="text/plain" id="utt-index">(.*?)</script>', html, re.S).group(1))
    details = [d for p in re.findall(r'<script type="text/plain" class="utt-page">(.*?)</script>', html, re.S) for d in unpack(p)]
    for u, d in zip(utts, details, strict=True):
        if u["a"] is not None:
            folder = meta["dirs"][u["a"][0]]
            u["a"] = f"{folder}/{u['a'][1]}" if folder else u["a"][1]
        for sid, h in u["h"].items():
            h.update(d[sid])
    return {**meta, "utts": utts}


def json_for_script(data: Any) -> str:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' can end the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for ch, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, code)
    return text
