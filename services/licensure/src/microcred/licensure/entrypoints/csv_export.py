"""CSV for the people who open reports in a spreadsheet: payroll and state staff.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel, LibreOffice
and Google Sheets, and some of what the reports carry is written by others: a license number a teacher declared,
a reason a district typed. So such a cell is written with a leading apostrophe, which spreadsheets show as
text (OWASP's "CSV injection" advice). A number stays a number: a reversal's "-500" is an amount, not a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    try:
        Decimal(value)
    except InvalidOperation:
        return "'" + value
    return value


class SafeCsv:
    """A csv.writer into a string, every cell made spreadsheet safe."""

    def __init__(self) -> None:
        self._out = io.StringIO()
        self._writer = csv.writer(self._out, lineterminator="\n")

    def row(self, cells: Iterable[Any]) -> None:
        self._writer.writerow([spreadsheet_safe(cell) for cell in cells])

    def text(self) -> str:
        return self._out.getvalue()
