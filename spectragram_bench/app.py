"""Command line: `spectragram-bench <command>` and `python app.py` are the same CLI.

`--config X` with no command means `run --config X`. Each command lives in its own module
under spectragram_bench/commands with `add_parser(subparsers)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from spectragram_bench import __version__
from spectragram_bench.core.allocator import limit_arenas
from spectragram_bench.core.errors import BenchError
from spectragram_bench.core.scrubbing import install_log_filter

COMMANDS = ("run", "schema", "list", "evaluate", "compare", "report", "export", "score", "import", "enqueue", "worker")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spectragram-bench",
        description="Benchmark speech-to-text systems: WER/CER, latency and cost, every prediction stored.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"spectragram_bench.commands.{name}")
        cmd = module.add_parser(sub)
        cmd.set_defaults(handler=module.run)
    return parser


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="URL", default=None,
        help="database URL (sqlite:///path.db or postgresql://user@host/db); "
        "default: $SPECTRAGRAM_DB_URL, the job's database_url, then ./runs/spectragram.db",
    )


def normalise_argv(argv: Sequence[str]) -> list[str]:
    """`--config X ...` without a command is `run --config X ...`."""
    args = list(argv)
    if args and args[0] not in COMMANDS and args[0] not in ("-h", "--help", "--version"):
        return ["run", *args]
    return args


#: the exit status of a command whose reader went away (`list | head`), as for SIGPIPE
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    """The entry point; a closed output pipe (`schema | head`) ends it quietly, in any command."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # whatever is still buffered for the closed pipe would fail again at exit: send it nowhere
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):  # stdout is not a real file (tests capture it)
            pass
        return EXIT_BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    install_log_filter()  # no secret reaches a log line, whichever module logs it
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    parser = build_parser()
    args = parser.parse_args(normalise_argv(sys.argv[1:] if argv is None else argv))
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    limit_arenas()  # before the command starts any thread (core/allocator.py)
    try:
        return int(args.handler(args) or 0)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
