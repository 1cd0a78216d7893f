"""CSV cells that a spreadsheet would run as a formula, made inert.

Names, references and summaries come from authorities and import files, screening refs
from the checker's own file; a cell such as ``=HYPERLINK("http://evil.example")`` or
``@SUM(1+1)*cmd|' /C calc'!A0`` in a CSV the registry writes would be run by
Excel or LibreOffice when a person opens the download ("CSV injection"). Every text
cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
leading apostrophe, which spreadsheets show as text and do not display; plain numbers
(``-12.5``) are left as they are. JSON, JSON Lines and Parquet keep the value verbatim:
they are data for programs, not sheets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def defuse(cell: object) -> object:
    """``cell`` as a spreadsheet shows it but does not run it."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def defuse_row(cells: Iterable[object]) -> list[object]:
    """Every cell of a CSV row through :func:`defuse`."""
    return [defuse(cell) for cell in cells]
