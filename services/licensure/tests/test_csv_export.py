"""The reports' CSV keeps what others wrote from running as a spreadsheet formula, and amounts as numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from uuid import uuid4

import pytest

from microcred.licensure.entrypoints.api import report_csv
from microcred.licensure.entrypoints.csv_export import spreadsheet_safe


@pytest.mark.parametrize(("cell", "written"), [
    ("=HYPERLINK(\"http://evil.example\",\"click\")", "'=HYPERLINK(\"http://evil.example\",\"click\")"),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("-2+3", "'-2+3"),
    ("\tTAB", "'\tTAB"),
    ("-500", "-500"),  # a reversal's amount
    ("-1.25", "-1.25"),
    ("TN-12345", "TN-12345"),
    ("", ""),
    (7, 7),
])
def test_a_cell_a_spreadsheet_would_run_is_written_as_text(cell: object, written: object) -> None:
    assert spreadsheet_safe(cell) == written


def test_the_credits_report_neutralizes_a_declared_license_number_and_keeps_a_negative_amount() -> None:
    entry = SimpleNamespace(posted_at=datetime(2025, 9, 1, tzinfo=UTC), kind=SimpleNamespace(value="reversal"),
                            amount=Decimal("-3"), unit="hours", rule_set_id="TN", rule_set_version=1,
                            reason="=IMPORTXML(\"http://evil.example\")")
    rows = [{"entry": entry, "license_number": "=1+1", "district": None, "credential_id": uuid4(),
             "credential_name": "Checking for Understanding"}]
    (row,) = csv.DictReader(io.StringIO(report_csv(rows, "detail")))
    assert (row["license_number"], row["amount"]) == ("'=1+1", "-3")
    assert row["reason"].startswith("'=")
