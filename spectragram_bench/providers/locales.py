"""ISO 639-1 language (what datasets give) to the BCP-47 locale the vendors that want a region
(Azure, Google) expect: the region each vendor's docs list first for that language."""

from __future__ import annotations

DEFAULT_LOCALES = {
    "ar": "ar-EG", "ca": "ca-ES", "cs": "cs-CZ", "da": "da-DK", "de": "de-DE", "el": "el-GR",
    "en": "en-US", "es": "es-ES", "fi": "fi-FI", "fr": "fr-FR", "he": "he-IL", "hi": "hi-IN",
    "hu": "hu-HU", "id": "id-ID", "it": "it-IT", "ja": "ja-JP", "ko": "ko-KR", "nl": "nl-NL",
    "no": "nb-NO", "nb": "nb-NO", "pl": "pl-PL", "pt": "pt-BR", "ro": "ro-RO", "ru": "ru-RU",
    "sv": "sv-SE", "th": "th-TH", "tr": "tr-TR", "uk": "uk-UA", "vi": "vi-VN", "zh": "zh-CN",
}


def locale_for(language: str | None) -> str | None:
    """'en' -> 'en-US'; a code that already has a region is kept; None stays None."""
    if not language:
        return None
    if "-" in language:
        return language
    return DEFAULT_LOCALES.get(language.lower(), language)
