"""The dataset loader contract: a loader turns a local folder into UtteranceRecords."""

from __future__ import annotations

import functools
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spectragram_bench.core.errors import DatasetError
from spectragram_bench.core.records import DatasetInfo, UtteranceRecord


def checksum_files(root: Path, files: Iterable[Path]) -> str:
    """sha256 over each file's path relative to `root` then its bytes, in the given order.

    Naming each file keeps a renamed or moved transcript from hashing the same; the bytes are
    streamed because split files can be large.
    """
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode())
        with open(path, "rb") as f:
            hashlib.file_digest(f, lambda: digest)  # feeds `digest` in chunks
    return digest.hexdigest()


class LoaderOptions(BaseModel):
    """Base of a loader's typed `options` (unknown keys rejected). `language` is the ISO 639-1
    code of the speech when the release does not say it (an option overrides the release);
    `alignments` a CTM file or a folder of TextGrids whose word timings every loader's utterances
    get (datasets/alignments.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    language: str | None = Field(None, pattern=r"^[a-z]{2}$", description="ISO 639-1 code of the speech, e.g. 'fr'")
    license: str | None = None
    alignments: str | None = Field(
        None, min_length=1, description="word alignments: a CTM file, or a folder of <utt id>.TextGrid (MFA's layout)",
    )


OptionsT = TypeVar("OptionsT", bound=LoaderOptions)


def parse_options(loader: str, model: type[OptionsT], options: dict[str, Any]) -> OptionsT:
    """The loader's options validated by `model`; a bad one is one fatal line naming it."""
    try:
        return model.model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise DatasetError(f"dataset {loader!r}: options.{loc}: {first['msg']}") from None


def _with_alignments(utterances):
    """A loader's utterances() with `options.alignments` attached, whichever loader it is."""

    @functools.wraps(utterances)
    def wrapped(self: Dataset) -> Iterator[UtteranceRecord]:
        records = utterances(self)
        found = getattr(self, "word_alignments", None)
        return found.attach(records) if found is not None else records

    wrapped.attaches_alignments = True
    return wrapped


class Dataset(ABC):
    """A corpus on local disk. Construction checks the root; iteration is lazy and rerunnable.

    Every loader's `utterances()` is wrapped (on subclassing) so that the word alignments of
    `options.alignments` reach its records without the loader doing anything.
    """

    name: ClassVar[str]
    #: the loader's options (unknown keys rejected, here for every loader): `self.opts`
    options_model: ClassVar[type[LoaderOptions]] = LoaderOptions
    #: The subsets utterances() reads, in order; set by each loader's constructor.
    selected: list[str]

    def __init__(self, root: str, subsets: list[str] | None, options: dict[str, Any]) -> None:
        self.root = Path(root).expanduser()
        self.subsets = list(subsets or [])
        self.options = dict(options)
        self.opts = parse_options(self.name, self.options_model, self.options)
        if not self.root.exists():
            raise DatasetError(f"dataset {self.name!r}: root {str(self.root)!r} does not exist")
        self.word_alignments = None
        if self.opts.alignments:
            from spectragram_bench.datasets.alignments import Alignments

            self.word_alignments = Alignments(self.opts.alignments, self.name)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("utterances")
        if own is not None and not getattr(own, "__isabstractmethod__", False) and not getattr(own, "attaches_alignments", False):
            cls.utterances = _with_alignments(own)

    def select_subsets(
        self, found: Mapping[str, Path] | Sequence[str], default: Sequence[str] = ()
    ) -> list[str]:
        """The requested subsets, or `default` (else every found one) when none were requested.

        A requested subset that is not among `found` is one fatal line naming it, the root and
        what was found there.
        """
        available = sorted(found)
        missing = [s for s in self.subsets if s not in found]
        if missing:
            raise DatasetError(
                f"dataset {self.name!r}: subset(s) {missing} not found under {self.root}; found: {available}"
            )
        return list(self.subsets) or list(default) or available

    def describe(self, checksum: str, license: str | None) -> DatasetInfo:
        """The DatasetInfo every loader reports: the resolved root as source, the selection as notes."""
        return DatasetInfo(
            name=self.name,
            source=str(self.root.resolve()),
            license=license,
            checksum=checksum,
            notes=f"subsets: {', '.join(self.selected)}",
        )

    @abstractmethod
    def info(self) -> DatasetInfo:
        """Name, source, license and a checksum of the transcripts for the dataset table."""

    def scan_inputs(self) -> list[Path] | None:
        """Every file (or folder) whose contents decide what utterances() yields, apart from the
        audio itself: transcripts, manifests, a folder whose listing picks a suffix. Planning keeps
        its scan of the rows while these keep their sizes and mtimes (worker/scan_cache.py); None
        (the default) reads the loader on every plan."""
        return None

    @abstractmethod
    def utterances(self) -> Iterator[UtteranceRecord]:
        """Every utterance of the selected subsets, in a stable order."""
