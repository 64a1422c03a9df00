"""Peak memory of a dry run over a Hugging Face parquet copy: 100k rows against 1k.

    python bench/bench_dataset_memory.py [--rows 100000] [--baseline 1000] [--smoke]

Writes a parquet copy in the Hub's layout (`data/test-0000k-of-0000n.parquet`, an Audio
struct column {bytes, path} holding 0.2 s FLAC clips, LibriSpeech-like texts, 1,000-row row
groups) once per size under the temp folder, then runs `run --config ... --dry-run` (mock
provider) on each in a fresh process and prints its peak RSS (VmHWM) and the ratio
large / baseline (target <= 1.5). The dry run reads every row's text and every selected
clip (to check it and measure its duration), so the listing, the plan and the row-group
reads are all in the figure.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from common import machine, parser

REPO = Path(__file__).resolve().parent.parent
CLIPS = 64  # distinct clips, cycled: real corpora do not repeat, but parquet's dictionary keeps the file small


def make_parquet(rows: int, root: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    marker = root / ".complete"
    if marker.exists():
        return root
    rng = np.random.default_rng(0)
    clips = []
    for k in range(CLIPS):
        buf = io.BytesIO()
        t = np.arange(3200) / 16000
        sf.write(buf, (0.2 * np.sin(2 * np.pi * (120 + 5 * k) * t) + 0.01 * rng.standard_normal(3200)).astype(np.float32),
                 16000, format="FLAC")
        clips.append(buf.getvalue())
    words = random.Random(0)
    vocab = [f"word{i}" for i in range(10_000)]
    shards = max(1, rows // 50_000)
    per = -(-rows // shards)
    (root / "data").mkdir(parents=True, exist_ok=True)
    for s in range(shards):
        ids = range(s * per, min(rows, (s + 1) * per))
        texts = [" ".join(words.choice(vocab) for _ in range(max(1, round(words.lognormvariate(2.83, 0.7))))) for _ in ids]
        table = pa.table({
            "audio": pa.array([{"bytes": clips[i % CLIPS], "path": f"{i}.flac"} for i in ids],
                              type=pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
            "text": texts,
            "id": [f"utt-{i:07d}" for i in ids],
            "speaker_id": [f"spk{i % 500}" for i in ids],
        })
        pq.write_table(table, root / "data" / f"test-{s:05d}-of-{shards:05d}.parquet", row_group_size=1000)
    marker.write_text("ok")
    return root


# VmHWM (this process's own high-water mark): ru_maxrss would carry the parent's over fork/exec
RUNNER = """
import sys, time
sys.argv = ["spectragram-bench", "run", "--config", sys.argv[1], "--dry-run", "--db", sys.argv[2]]
from spectragram_bench.app import main
t0 = time.perf_counter()
try:
    main()
except SystemExit as exc:
    if exc.code not in (0, None):
        raise
hwm = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print("PEAK_KB", hwm, "SECONDS", round(time.perf_counter() - t0, 2), file=sys.stderr)
"""


def dry_run_peak(root: Path, workdir: Path) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of a dry run over the parquet copy at `root`, in a fresh process."""
    job = workdir / f"job-{root.name}.json"
    job.write_text(json.dumps({
        "name": "memory", "providers": [{"name": "mock"}],
        "datasets": [{"name": "hf_dataset", "root": str(root)}],
        "evaluation": {"normalizer": "basic", "bootstrap_iterations": 0},
    }))
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(job), f"sqlite:///{workdir / 'unused.db'}"],
                          cwd=REPO, capture_output=True, text=True, check=False)
    line = next((x for x in proc.stderr.splitlines() if x.startswith("PEAK_KB")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"dry run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    _, kb, _, seconds = line.split()
    return int(kb) / 1024.0, float(seconds)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--baseline", type=int, default=1_000)
    args = p.parse_args()
    rows, base = (5_000, 500) if args.smoke else (args.rows, args.baseline)
    tmp = Path(tempfile.gettempdir())
    print(f"machine: {machine()}")
    t0 = time.perf_counter()
    small = make_parquet(base, tmp / f"spectragram-bench-parquet-{base}")
    large = make_parquet(rows, tmp / f"spectragram-bench-parquet-{rows}")
    print(f"corpora ready in {time.perf_counter() - t0:.1f} s")
    with tempfile.TemporaryDirectory() as wd:
        small_mb, small_s = dry_run_peak(small, Path(wd))
        large_mb, large_s = dry_run_peak(large, Path(wd))
    print(f"dry run over {base:>7,} rows: peak RSS {small_mb:7.1f} MiB, {small_s:6.1f} s")
    print(f"dry run over {rows:>7,} rows: peak RSS {large_mb:7.1f} MiB, {large_s:6.1f} s")
    print(f"ratio {rows:,} / {base:,} rows: {large_mb / small_mb:.3f} (target <= 1.5)")


if __name__ == "__main__":
    main()
