"""User-facing errors: each carries one line that names what is wrong and where."""


class BenchError(Exception):
    """A fatal problem with user input or environment; the CLI prints it as one line and exits non-zero."""

    exit_code = 2


class ConfigError(BenchError):
    pass


class DatasetError(BenchError):
    pass


class DatabaseError(BenchError):
    pass


class AudioError(Exception):
    """An unreadable, corrupt or unusable audio file: one utterance's recorded error, not fatal."""


class DatabaseUnavailable(DatabaseError):
    """The database stayed unreachable (refused, reset, locked) past `db_retry_s`: the run
    stops as interrupted and can be resumed; nothing it was given is recorded as a failure."""
