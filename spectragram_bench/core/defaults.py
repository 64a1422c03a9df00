"""Defaults the command line shows in its help, kept apart so `--help` imports nothing heavy."""

#: after a first Ctrl-C, how long in-flight requests may finish
DEFAULT_GRACE_S = 30.0
#: how long a worker's lease on a work item lasts without renewal
DEFAULT_LEASE_S = 60.0
#: export formats and their file extensions
EXPORT_FORMATS = {"csv": "csv", "parquet": "parquet", "json": "jsonl"}
#: a running job run whose heartbeat is older than this is shown as `interrupted (stale)` and
#: taken over by `run --resume` (a live process beats every DEFAULT_LEASE_S / 3 s)
STALE_AFTER_S = 2 * DEFAULT_LEASE_S
