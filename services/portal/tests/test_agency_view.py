"""The state and district staff pages' view logic: the credit report's CSV, the chart's scale, the competency matrix."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from microcred.portal.domain.agency import (
    NO_DISTRICT,
    ReportRow,
    ReportUnreadable,
    chart_label,
    competency_matrix,
    credit_chart,
    default_period,
    nice_ceiling,
    parse_credit_report,
    plural,
)

# As licensure writes it (services/licensure entrypoints/api.py report_csv, group=district_credential).
CSV = (
    "district,credential_id,credential_name,credits,reversals,net_amount,unit\n"
    ",,,0,1,-2,hours\n"
    "Benton County,5b3f0a3c-0000-4000-8000-000000000001,Exit Tickets,3,1,30,hours\n"
    'Pulaski County,5b3f0a3c-0000-4000-8000-000000000002,"Hinge Questions, Part 2",12,0,180,hours\n'
)


def test_the_report_csv_reads_as_rows_with_exact_amounts_and_named_blanks() -> None:
    rows = parse_credit_report(CSV)
    assert rows[0] == ReportRow(NO_DISTRICT, "Adjustment", 0, 1, Decimal("-2"), "hours")
    assert rows[2] == ReportRow("Pulaski County", "Hinge Questions, Part 2", 12, 0, Decimal("180"), "hours")
    assert rows[2].label == "Pulaski County: Hinge Questions, Part 2"


@pytest.mark.parametrize("text", [
    "posted_at,kind\n",  # the detail report, not the summary
    "district,credential_id,credential_name,credits,reversals,net_amount,unit\nA,,B,three,0,1,hours\n",
    "district,credential_id,credential_name,credits,reversals,net_amount,unit\nA,,B,1\n",
])
def test_a_report_that_is_not_the_expected_csv_is_refused_rather_than_shown_wrong(text: str) -> None:
    with pytest.raises(ReportUnreadable):
        parse_credit_report(text)


@pytest.mark.parametrize(("largest", "axis"), [(0, (1, 1)), (1, (1, 1)), (3, (3, 1)), (7, (8, 2)), (12, (15, 5)),
                                                (48, (50, 10)), (100, (100, 20)), (1234, (1500, 500))])
def test_the_axis_ends_on_a_round_step_at_or_above_the_largest_value(largest: int, axis: tuple[int, int]) -> None:
    assert nice_ceiling(largest) == axis


def test_bars_are_as_long_as_their_share_of_the_axis_and_carry_their_figure_in_words() -> None:
    chart = credit_chart(parse_credit_report(CSV))
    by_label = {bar.label: bar for bar in chart.bars}
    pulaski, benton = by_label["Pulaski County: Hinge Questions, Part 2"], by_label["Benton County: Exit Tickets"]
    assert pulaski.width == round(chart.plot_width * 12 / 15, 1)
    assert benton.width == round(chart.plot_width * 3 / 15, 1)
    assert by_label[f"{NO_DISTRICT}: Adjustment"].width == 0
    assert (pulaski.text, benton.text) == ("12 credits", "3 credits, 1 reversal")
    assert [tick.label for tick in chart.ticks] == ["0", "5", "10", "15"]
    assert chart.ticks[-1].x == chart.plot_x + chart.plot_width
    # One bar per table row, in the table's order, none overlapping the next.
    assert [bar.label for bar in chart.bars] == [row.label for row in parse_credit_report(CSV)]
    # Each bar under its own label line, clear of the bar above.
    assert all(b.y - a.y >= chart.bar_height + 20 for a, b in zip(chart.bars, chart.bars[1:], strict=False))
    assert chart.height > chart.bars[-1].y + chart.bar_height


def test_a_long_label_is_cut_with_an_ellipsis_and_a_short_one_kept() -> None:
    assert chart_label("Pulaski County: Exit Tickets") == "Pulaski County: Exit Tickets"
    long = "Pulaski County: Modifying instruction through formative assessment during a lesson, part two of three"
    cut = chart_label(long)
    assert len(cut) <= 90 and cut.endswith("…") and long.startswith(cut[:-1])


def test_the_matrix_has_a_cell_per_competency_in_order_and_names_the_gaps() -> None:
    matrix = competency_matrix({
        "state": "AR",
        "competencies": [{"competency": "Checks for understanding", "recorded": True, "credentials": ["Exit Tickets"]},
                         {"competency": "Questioning", "recorded": True, "credentials": ["Hinge Questions"]}],
        "districts": [
            {"district": "Benton County", "licensed_teachers": 4,
             "holders": [{"competency": "Questioning", "teachers": 2}]},  # a cell not sent is nobody
            {"district": None, "licensed_teachers": 1, "holders": [{"competency": "Checks for understanding",
                                                                     "teachers": 1}]},
        ],
    })
    assert [(row.district, [c.words for c in row.cells]) for row in matrix.rows] == [
        ("Benton County", ["None of 4", "2 of 4"]), (NO_DISTRICT, ["1 of 1", "None of 1"])]
    assert matrix.gaps == 2


def test_the_default_period_is_the_last_twelve_months_and_plurals_read_right() -> None:
    period = default_period(date(2026, 12, 6))
    assert (period.start, period.end) == (date(2025, 12, 6), date(2026, 12, 6))
    assert (plural(1, "credit"), plural(2, "credit"), plural(3, "delivery", "deliveries")) == (
        "1 credit", "2 credits", "3 deliveries")
