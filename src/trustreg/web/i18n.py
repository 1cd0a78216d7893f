"""The portal in simplified Chinese and English: gettext catalogues, chosen per request.

The language is the one asked for with ``?lang=zh`` or ``?lang=en`` (remembered in a
cookie), else the cookie's, else the browser's first preference among ours, else
English. Catalogues live in ``web/locales/<locale>/LC_MESSAGES/messages.po`` with their
compiled ``.mo`` beside them; after editing a ``.po`` file run
``python -m trustreg.web.i18n`` to compile (a test checks they agree). Message ids are
the English text.
"""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

LOCALES = Path(__file__).resolve().parent / "locales"
TEMPLATES = Path(__file__).resolve().parent / "templates"
LANGUAGES = {"zh": "zh_CN", "en": "en"}  # what ?lang= takes → the catalogue's locale
DEFAULT = "en"
COOKIE = "lang"


def language_of(request: Request) -> str:
    """The language this request is answered in."""
    asked = request.query_params.get("lang", "")
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(COOKIE, "")
    if remembered in LANGUAGES:
        return remembered
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag[:2] in LANGUAGES:
            return tag[:2]
    return DEFAULT


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of a language (English falls back to the ids)."""
    return gettext.translation("messages", LOCALES, languages=[LANGUAGES[language]], fallback=True)


@lru_cache(maxsize=len(LANGUAGES))
def templates(language: str) -> Jinja2Templates:
    """One template environment per language, with its catalogue installed."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return Jinja2Templates(env=env)


def compile_catalogues() -> list[Path]:
    """Compile every ``messages.po`` to ``messages.mo``; returns the files written."""
    written = []
    for po in sorted(LOCALES.glob("*/LC_MESSAGES/messages.po")):
        target = po.with_suffix(".mo")
        target.write_bytes(compiled(po))
        written.append(target)
    return written


def compiled(po: Path) -> bytes:
    """A catalogue compiled to ``.mo`` bytes (Babel, deterministic)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as handle:
        catalogue = read_po(handle)
    out = io.BytesIO()
    write_mo(out, catalogue)
    return out.getvalue()


if __name__ == "__main__":
    for path in compile_catalogues():
        print(path)
