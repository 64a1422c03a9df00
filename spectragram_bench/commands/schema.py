"""`spectragram-bench schema`: the job file's JSON schema."""

from __future__ import annotations

import json


def add_parser(sub):
    p = sub.add_parser("schema", help="print the JSON schema of job files")
    p.add_argument("--db", metavar="URL", default=None, help="accepted for uniformity; unused")
    return p


def run(args) -> int:
    from spectragram_bench.core.config import json_schema
    print(json.dumps(json_schema(), indent=2))
    return 0
