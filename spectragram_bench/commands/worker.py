"""`spectragram-bench worker --db URL`: lease enqueued work items, run them, evaluate job runs.

Start as many as you like, on as many machines as reach the database. Each worker needs the
audio at the paths stored in the database and the providers' API keys in its environment.
Rate limits are shared through the database (one schedule per job run); `concurrency` is
per worker.
"""

from __future__ import annotations

import sys

from spectragram_bench.app import add_db_option
from spectragram_bench.core.defaults import DEFAULT_GRACE_S, DEFAULT_LEASE_S
from spectragram_bench.core.errors import ConfigError


def add_parser(sub):
    p = sub.add_parser("worker", help="run enqueued work items (start one or more per machine)")
    p.add_argument("--lease-s", type=float, default=DEFAULT_LEASE_S, metavar="S",
                   help=f"lease length; a dead worker's items are taken over after it (default {DEFAULT_LEASE_S:g})")
    p.add_argument("--wait", action="store_true", help="keep waiting for new work instead of exiting when the queue is empty")
    p.add_argument("--poll-s", type=float, default=5.0, metavar="S", help="how often to look for work (default 5)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--grace-s", type=float, default=DEFAULT_GRACE_S, metavar="S",
                   help=f"after a first Ctrl-C, how long in-flight requests may finish (default {DEFAULT_GRACE_S:g})")
    add_db_option(p)
    return p


def run(args) -> int:
    from spectragram_bench.core.persistence import open_database, resolve_db_url
    from spectragram_bench.worker.progress import choose_mode
    from spectragram_bench.worker.worker_loop import run_worker
    if args.lease_s <= 0 or args.poll_s <= 0:
        raise ConfigError("--lease-s and --poll-s must be positive")
    db = open_database(resolve_db_url(args.db, None))
    try:
        outcomes, interrupted = run_worker(
            db, lease_s=args.lease_s, wait=args.wait, poll_s=args.poll_s,
            progress=choose_mode(args.quiet), grace_s=args.grace_s,
        )
        done = {o.job_run_id: o for o in outcomes}
        for o in done.values():
            print(f"job run {o.job_run_id} ({o.label}): {o.stats.done} ok, {o.stats.failed} failed by this worker; status {o.status}")
        if interrupted:
            print("interrupted: unfinished items were released; any worker continues them", file=sys.stderr)
            return 130
        return 0
    finally:
        db.dispose()
