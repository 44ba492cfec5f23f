"""What the state and district staff pages show, worked out from what licensure answers. Pure: no HTTP here.

The credit report comes from the service as CSV (one row per district and credential); the page shows it as a
table and as a bar chart drawn on the server as SVG. The table is the chart's text alternative, so the chart
shows exactly the table's rows and figures, each bar labelled with its number in text: nothing is told by colour
alone.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

REPORT_HEADER = ["district", "credential_id", "credential_name", "credits", "reversals", "net_amount", "unit"]
NO_DISTRICT = "No district recorded"


class ReportUnreadable(ValueError):
    """The service's CSV is not the report the page expects (a contract drift, not a person's mistake)."""


@dataclass(frozen=True)
class ReportRow:
    district: str
    credential_name: str
    credits: int
    reversals: int
    net_amount: Decimal
    unit: str

    @property
    def label(self) -> str:
        return f"{self.district}: {self.credential_name}"


def parse_credit_report(text: str) -> list[ReportRow]:
    """The by-district-and-credential CSV of ``GET /states/{XX}/reports/credits``, as rows."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header != REPORT_HEADER:
        raise ReportUnreadable(f"unexpected report columns: {header}")
    rows = []
    for line in reader:
        if len(line) != len(REPORT_HEADER):
            raise ReportUnreadable(f"a report row has {len(line)} columns")
        district, _, name, credits, reversals, net, unit = line
        try:
            rows.append(ReportRow(district=district or NO_DISTRICT, credential_name=name or "Adjustment",
                                  credits=int(credits), reversals=int(reversals), net_amount=Decimal(net), unit=unit))
        except (ValueError, InvalidOperation) as exc:
            raise ReportUnreadable(f"a report row does not read: {line}") from exc
    return rows


def amount_words(amount: Decimal, unit: str) -> str:
    return f"{format(amount.normalize(), 'f')} {unit}"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


# -- the chart -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    text: str  # what is written at the end of the bar: the figure in words, never left to the bar's length
    y: float  # the bar's top; its label sits on the line above it
    width: float


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


LABEL_HEIGHT = 20  # the line above each bar that names it


@dataclass(frozen=True)
class BarChart:
    """A horizontal bar chart's geometry in SVG user units: each bar under its label, all from ``plot_x``."""

    width: int
    height: int
    plot_x: int
    plot_width: int
    bar_height: int
    bars: list[Bar] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)

    @property
    def axis_y(self) -> float:
        return self.height - 24


def nice_ceiling(value: int) -> tuple[int, int]:
    """The axis maximum and step for values up to ``value``: 1, 2 or 5 times a power of ten, about five steps."""
    if value <= 0:
        return 1, 1
    raw = value / 5
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    step = max(int(step), 1)
    return step * math.ceil(value / step), step


def credit_chart(rows: list[ReportRow], *, width: int = 760, bar_height: int = 20, gap: int = 12) -> BarChart:
    """Credits posted per table row, in the table's order. Labels go above the bars, so a long district and
    credential name keeps the whole width; the longest bar leaves room at its end for its figure."""
    plot_x = 8
    plot_width = width - plot_x - 150
    maximum, step = nice_ceiling(max((row.credits for row in rows), default=0))
    row_height = LABEL_HEIGHT + bar_height + gap
    bars = []
    for index, row in enumerate(rows):
        text = plural(row.credits, "credit") + (f", {plural(row.reversals, 'reversal')}" if row.reversals else "")
        bars.append(Bar(label=row.label, value=row.credits, text=text, y=8 + index * row_height + LABEL_HEIGHT,
                        width=round(plot_width * row.credits / maximum, 1)))
    ticks = [Tick(x=round(plot_x + plot_width * v / maximum, 1), label=str(v)) for v in range(0, maximum + 1, step)]
    height = 8 + len(rows) * row_height + 30
    return BarChart(width=width, height=height, plot_x=plot_x, plot_width=plot_width, bar_height=bar_height,
                    bars=bars, ticks=ticks)


def chart_label(text: str, limit: int = 90) -> str:
    """A bar's label cut to fit the chart's width; the whole label is in the table and in the bar's own title."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- the period ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date


def default_period(today: date) -> Period:
    """The last twelve months up to today: a report the page can show before anyone chooses."""
    return Period(start=today - timedelta(days=365), end=today)


def parse_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


# -- the competency matrix -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixCell:
    holders: int
    licensed: int

    @property
    def gap(self) -> bool:
        return self.holders == 0

    @property
    def words(self) -> str:
        return f"{'None' if self.holders == 0 else self.holders} of {self.licensed}"


@dataclass(frozen=True)
class MatrixRow:
    district: str
    licensed: int
    cells: list[MatrixCell]


@dataclass(frozen=True)
class Matrix:
    competencies: list[dict[str, Any]]  # as the service answers: competency, recorded, credentials
    rows: list[MatrixRow]

    @property
    def gaps(self) -> int:
        return sum(cell.gap for row in self.rows for cell in row.cells)


def competency_matrix(answer: dict[str, Any]) -> Matrix:
    """``GET /states/{XX}/reports/competencies`` as rows of districts with a cell per competency, in the
    competencies' order (a cell the service did not send is nobody)."""
    competencies = list(answer.get("competencies", []))
    names = [c["competency"] for c in competencies]
    rows = []
    for district in answer.get("districts", []):
        held = {h["competency"]: int(h["teachers"]) for h in district.get("holders", [])}
        licensed = int(district.get("licensed_teachers", 0))
        rows.append(MatrixRow(district=district.get("district") or NO_DISTRICT, licensed=licensed,
                              cells=[MatrixCell(held.get(name, 0), licensed) for name in names]))
    return Matrix(competencies=competencies, rows=rows)


# -- webhooks --------------------------------------------------------------------------------------------------

DELIVERY_STATUSES = {"pending": "Waiting to be sent or retried", "delivered": "Delivered", "dead": "Given up (dead)"}
