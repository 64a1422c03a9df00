"""Scale: the 0 ms mock provider end to end through the real CLI at 1k, 10k and 100k utterances.

    python bench/bench_scale.py                          # 1k, 10k, 100k; median of 3 below 100k, 1 run at 100k
    python bench/bench_scale.py --sizes 1000 10000       # a subset
    python bench/bench_scale.py --baseline-ref HEAD~1    # each figure beside another commit's (a git worktree)
    python bench/bench_scale.py --readme                 # also the README's Performance row
    python bench/bench_scale.py --smoke                  # 200 utterances (CI)

Per size: wall time of `run` (plan, execute, tail = evaluation and report, from the database's own
timestamps), peak RSS of the process, database size, the time of a second `run --dry-run` of the
same dataset (planning on a registered dataset), `report` wall time, the HTML size, and the page's
load time in headless Chromium (until the page is idle, `--virtual-time-budget`, so the browser's
asynchronous decompression and first render are inside it; minus an empty page measured the same
way: Chromium's own start-up is not the report's). A page whose browser did not render counts as
failed. The load average (1 min) at the start of each measurement is printed beside it: the
machine is shared, and load moves every figure.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, make_corpus, parser  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def peak_rss_child(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    """Wall, peak RSS (ru_maxrss of exactly this child, via wait4) and output."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        out = log.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{out[-3000:]}")
    return wall, usage.ru_maxrss * 1024, out


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def page_load_s(url: str, tries: int = 3) -> float:
    """Wall time for headless Chromium to load `url` and run its scripts (--dump-dom), best of `tries`."""
    return min(_page_load_once(url) for _ in range(tries))


def _page_load_once(url: str) -> float:
    with tempfile.TemporaryDirectory() as profile:
        args = [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--virtual-time-budget=60000", "--dump-dom", url,
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
        took = time.perf_counter() - t0
    if url != "about:blank" and 'id="browser"' in proc.stdout and "data-shown=" not in proc.stdout:
        return float("nan")  # the utterance browser never rendered: no load time to report
    return took


def phases(db_path: Path) -> dict[str, float]:
    """plan / execute / tail seconds from the benchmark's and job run's own timestamps."""
    con = sqlite3.connect(db_path)
    try:
        created = con.execute("SELECT created_at FROM benchmark ORDER BY benchmark_id DESC LIMIT 1").fetchone()[0]
        started, ended = con.execute("SELECT started_at, ended_at FROM job_run ORDER BY job_run_id DESC LIMIT 1").fetchone()
    finally:
        con.close()
    parse = lambda v: datetime.fromisoformat(str(v)).timestamp()  # noqa: E731
    return {"created": parse(created), "started": parse(started), "ended": parse(ended)}


def measure(code: Path, corpus: Path, n: int, workdir: Path) -> dict[str, float]:
    """One end-to-end measurement of `code` (a checkout) at n utterances."""
    run_dir = Path(tempfile.mkdtemp(prefix=f"scale-{n}-", dir=workdir))
    db_path = run_dir / "bench.db"
    job_file = run_dir / "job.json"
    job_file.write_text(json.dumps({
        "name": f"scale-{n}",
        "providers": [{"name": "mock", "concurrency": 64}],
        "datasets": [{"name": "librispeech", "root": str(corpus), "subsets": ["bench-clean"]}],
        "evaluation": {"normalizer": "basic"},
    }))
    env = {k: v for k, v in os.environ.items() if k != "SPECTRAGRAM_DB_URL"}
    env["PYTHONPATH"] = str(code)
    app = [sys.executable, str(code / "app.py")]
    db = ["--db", f"sqlite:///{db_path}"]
    report = run_dir / "report.html"
    load_avg = os.getloadavg()[0]
    t_start = time.time()
    wall, rss, _out = peak_rss_child([*app, "run", "--config", str(job_file), "--max-utt", str(n), "--quiet",
                                      "--report", str(report), *db], run_dir, env)
    t_end = t_start + wall
    ph = phases(db_path)
    dry_wall, _rss, _ = peak_rss_child([*app, "run", "--config", str(job_file), "--max-utt", str(n), "--dry-run", *db], run_dir, env)
    report2 = run_dir / "report2.html"
    rep_wall, _rss, _ = peak_rss_child([*app, "report", "1", "--out", str(report2), *db], run_dir, env)
    size = sum(p.stat().st_size for p in run_dir.glob("bench.db*"))
    # the empty page right before, under the same load (best of 3 each)
    load = page_load_s(report2.as_uri()) - page_load_s("about:blank") if chromium() else float("nan")
    result = {
        "wall_s": wall, "plan_s": ph["created"] - t_start, "exec_s": ph["ended"] - ph["started"],
        "tail_s": t_end - ph["ended"], "rss_mb": rss / 2**20, "db_mb": size / 2**20,
        "dry_run_s": dry_wall, "report_s": rep_wall, "html_mb": report2.stat().st_size / 2**20, "load_s": load,
        "loadavg": load_avg,
    }
    shutil.rmtree(run_dir, ignore_errors=True)
    return result


COLUMNS = [
    ("wall_s", "wall s", "{:.1f}"), ("plan_s", "plan s", "{:.1f}"), ("exec_s", "execute s", "{:.1f}"),
    ("tail_s", "tail s", "{:.1f}"), ("rss_mb", "peak RSS MB", "{:.0f}"), ("db_mb", "DB MB", "{:.1f}"),
    ("dry_run_s", "2nd dry run s", "{:.1f}"), ("report_s", "report s", "{:.1f}"), ("html_mb", "HTML MB", "{:.1f}"),
    ("load_s", "page load s", "{:.2f}"), ("loadavg", "load avg", "{:.1f}"),
]


def cell(ours: dict[str, float], base: dict[str, float] | None, key: str, fmt: str) -> str:
    """`ours (base)`: the baseline's figure in brackets when it was measured."""
    text = fmt.format(ours[key])
    return text if base is None else f"{text} ({fmt.format(base[key])})"


def readme_row(results: dict[int, dict[str, float]], bases: dict[int, dict[str, float]], baseline: str | None) -> str:
    """The README Performance table's row for this bench (the baseline's figures in brackets)."""
    parts = []
    for n, r in sorted(results.items()):
        b = bases.get(n)

        def c(key: str, fmt: str, r=r, b=b) -> str:
            return cell(r, b, key, fmt)

        parts.append(
            f"{n:,}: **{c('wall_s', '{:.1f}')} s** (plan {c('plan_s', '{:.1f}')}, execute {c('exec_s', '{:.1f}')}, "
            f"tail {c('tail_s', '{:.1f}')}), peak RSS {c('rss_mb', '{:.0f}')} MB, DB {c('db_mb', '{:.1f}')} MB, "
            f"2nd dry run {c('dry_run_s', '{:.1f}')} s, `report` {c('report_s', '{:.1f}')} s, HTML {c('html_mb', '{:.1f}')} MB, "
            f"page load {c('load_s', '{:.2f}')} s (load avg {c('loadavg', '{:.1f}')})"
        )
    brackets = f"; in brackets {baseline}, the code before" if bases else ""
    today = datetime.now().strftime("%Y-%m-%d")
    return ("| scale: the 0 ms mock through the CLI at 1k, 10k, 100k utterances (wall, phases, peak RSS, database size, "
            f"report size and page load) | `python bench/bench_scale.py --readme`{brackets} | " + "; ".join(parts) +
            " | 100k: < 60 s end to end, peak RSS < 1.5x of 1k, 2nd dry run < 2 s, HTML < 10 MB, page load < 3 s"
            f" | {today} |")


def median_run(code: Path, corpus: Path, n: int, workdir: Path, repeat: int) -> dict[str, float]:
    runs = [measure(code, corpus, n, workdir) for _ in range(repeat)]
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def baseline_checkout(rev: str, workdir: Path) -> Path:
    path = workdir / f"baseline-{rev.replace('/', '_').replace('~', '_')}"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), rev], check=True, capture_output=True)
    return path


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=None, help="utterance counts (default 1000 10000 100000)")
    p.add_argument("--repeat", type=int, default=3, help="runs per size below 100k; the median is reported")
    p.add_argument("--baseline-ref", "--baseline", dest="baseline", default=None, metavar="REV",
                   help="also measure this git revision, each figure beside ours (in brackets)")
    p.add_argument("--readme", action="store_true", help="also print the README Performance row")
    args = p.parse_args()
    sizes = [200] if args.smoke else (args.sizes or [1000, 10000, 100000])
    workdir = Path(tempfile.mkdtemp(prefix="spectragram-scale-"))
    base_code = baseline_checkout(args.baseline, workdir) if args.baseline else None
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"scale, 0 ms mock provider through the CLI into SQLite; {machine()}; code {head or '?'}"
          + (f", in brackets {args.baseline}" if args.baseline else ""))
    print("| utterances | " + " | ".join(h for _k, h, _f in COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    results: dict[int, dict[str, float]] = {}
    bases: dict[int, dict[str, float]] = {}
    try:
        for n in sizes:
            corpus = make_corpus(n, Path(tempfile.gettempdir()) / f"spectragram-scale-corpus-{n}", seconds=0.25)
            repeat = 1 if n >= 100000 or args.smoke else args.repeat
            try:
                ours = median_run(REPO, corpus, n, workdir, repeat)
            except RuntimeError as exc:
                print(f"| {n:,} | failed: {str(exc).splitlines()[0]} |")
                continue
            base = None
            if base_code is not None:
                try:
                    base = median_run(base_code, corpus, n, workdir, repeat)
                except RuntimeError as exc:
                    print(f"| {n:,} | baseline failed: {str(exc).splitlines()[0]} |")
            results[n] = ours
            if base is not None:
                bases[n] = base
            print(f"| {n:,} | " + " | ".join(cell(ours, base, k, f) for k, _h, f in COLUMNS) + " |", flush=True)
    finally:
        if base_code is not None:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_code)], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)
    if args.readme and results:
        print()
        print(readme_row(results, bases, args.baseline))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
