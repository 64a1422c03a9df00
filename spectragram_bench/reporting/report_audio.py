"""Play links of the report's utterance browser.

A file on this machine is linked by a path relative to the report (never copied), a segment
with a media fragment (`#t=start,end`) so the browser plays just that stretch. Audio that is
not a file of its own (a parquet/Arrow row's bytes) is written once, as it is stored (the
row's encoded bytes, or a WAV of a decoded array), into `<report>-audio/` beside the report,
so the report plays it without touching the corpus.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from spectragram_bench.core.audio_source import SOURCE_KEYS, AudioSource
from spectragram_bench.core.errors import AudioError

log = logging.getLogger(__name__)


def relative_href(path: Path, out_dir: Path) -> str | None:
    try:
        rel = os.path.relpath(path.resolve(), out_dir.resolve())
    except ValueError:  # another drive on Windows: no relative path exists
        return None
    return quote(Path(rel).as_posix())


class AudioLinks:
    """Play links for many utterances: each folder is resolved once and listed once, not each
    file stat-ed and resolved (a 100k-utterance report spent most of its time there). The
    listings of the last LISTED folders are kept (utterances come folder by folder); a folder
    asked for again after its listing was dropped has its files stat-ed one by one instead, so
    memory stays bounded (every name of a 100k corpus was 10 MB) and no order is slow."""

    LISTED = 32

    def __init__(self, out_dir: Path, clips_dir: Path) -> None:
        self.out_dir = os.path.realpath(out_dir)
        self.clips_dir = clips_dir
        self._prefixes: dict[str, str | None] = {}  # folder -> its link prefix (None: unreadable)
        self._names: dict[str, frozenset[str]] = {}  # the listings kept, oldest first

    def _folder(self, folder: str) -> str | None:
        """The folder's link prefix relative to the report, None if unreadable (listed the first time)."""
        if folder not in self._prefixes:
            try:
                names = frozenset(e.name for e in os.scandir(folder or ".") if e.is_file())
                rel = os.path.relpath(os.path.realpath(folder or "."), self.out_dir)
                self._prefixes[folder] = quote(Path(rel).as_posix())
                self._names[folder] = names
                if len(self._names) > self.LISTED:
                    del self._names[next(iter(self._names))]
            except (OSError, ValueError):  # unreadable, or another drive on Windows
                self._prefixes[folder] = None
        return self._prefixes[folder]

    def _exists(self, folder: str, name: str) -> bool:
        names = self._names.get(folder)
        return name in names if names is not None else os.path.isfile(os.path.join(folder or ".", name))

    def href(self, utt_id: int, audio_path: str | None, meta: dict[str, Any] | None) -> str | None:
        """The link for one utterance, or None when its audio is not on this machine."""
        if not audio_path:
            return None
        folder, name = os.path.split(audio_path)
        prefix = self._folder(folder)
        if prefix is None or not self._exists(folder, name):
            return None
        # no source keys: the whole file (most utterances; a source object each cost microseconds)
        source = AudioSource.restore(audio_path, meta) if meta and not SOURCE_KEYS.isdisjoint(meta) else None
        if source is not None and not source.is_file:
            return audio_href(utt_id, audio_path, meta, Path(self.out_dir), self.clips_dir)
        href = f"{prefix}/{quote(name)}" if prefix != "." else quote(name)
        if source is not None and (source.offset_s or source.segment_s is not None):
            end = "" if source.segment_s is None else f",{source.offset_s + source.segment_s:.3f}"
            href += f"#t={source.offset_s:.3f}{end}"
        return href


def audio_href(utt_id: int, audio_path: str | None, meta: dict[str, Any] | None, out_dir: Path, clips_dir: Path) -> str | None:
    """The link for one utterance, or None when its audio is not on this machine."""
    if not audio_path or not Path(audio_path).is_file():
        return None
    meta = meta or {}
    source = AudioSource.restore(audio_path, meta)
    if source.is_file:
        href = relative_href(Path(audio_path), out_dir)
        if href is not None and (source.offset_s or source.segment_s is not None):
            end = "" if source.segment_s is None else f",{source.offset_s + source.segment_s:.3f}"
            href += f"#t={source.offset_s:.3f}{end}"
        return href
    try:
        data, _mime, name = source.open().file_bytes()
    except AudioError as exc:  # that utterance's own recorded failure; the report still renders
        log.debug("no play link for utterance %s: %s", utt_id, exc)
        return None
    clip = clips_dir / f"{utt_id}{Path(name).suffix or '.wav'}"
    if not clip.is_file() or clip.stat().st_size != len(data):
        clips_dir.mkdir(parents=True, exist_ok=True)
        clip.write_bytes(data)
    return relative_href(clip, out_dir)

