"""The dataset loader contract: a loader turns a local folder into UtteranceRecords."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from spectragram_bench.core.errors import DatasetError
from spectragram_bench.core.records import DatasetInfo, UtteranceRecord


class Dataset(ABC):
    """A corpus on local disk. Construction checks the root; iteration is lazy and rerunnable."""

    name: ClassVar[str]

    def __init__(self, root: str, subsets: list[str] | None, options: dict[str, Any]) -> None:
        self.root = Path(root).expanduser()
        self.subsets = list(subsets or [])
        self.options = dict(options)
        if not self.root.exists():
            raise DatasetError(f"dataset {self.name!r}: root {str(self.root)!r} does not exist")

    @abstractmethod
    def info(self) -> DatasetInfo:
        """Name, source, license and a checksum of the transcripts for the dataset table."""

    @abstractmethod
    def utterances(self) -> Iterator[UtteranceRecord]:
        """Every utterance of the selected subsets, in a stable order."""
