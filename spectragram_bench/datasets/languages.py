"""Language codes as the releases name them, mapped to ISO 639-1 (what WorkItem.language holds)."""

from __future__ import annotations

#: MLS folder names (`mls_french`) -> ISO 639-1.
MLS_LANGUAGES = {
    "english": "en", "german": "de", "dutch": "nl", "french": "fr", "spanish": "es",
    "italian": "it", "portuguese": "pt", "polish": "pl",
}

#: FLEURS folder prefixes written with ISO 639-3 codes (`cmn_hans_cn`) -> ISO 639-1; the others
#: (`fr_fr`, `de_de`, ...) already start with the ISO 639-1 code.
ISO_639_3_TO_1 = {
    "cmn": "zh", "yue": "zh", "fil": "tl", "ast": None, "ceb": None, "ckb": "ku", "kam": None, "kea": None,
    "luo": None, "nso": None, "umb": None, "xh": "xh",
}

def fleurs_language(folder: str) -> str | None:
    """`fr_fr` -> fr, `cmn_hans_cn` -> zh; None when the release's code has no ISO 639-1 code."""
    head = folder.split("_", 1)[0].lower()
    if len(head) == 2:
        return head
    return ISO_639_3_TO_1.get(head)
