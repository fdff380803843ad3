"""ex2.formatting: one format per kind of number, and MyST list-tables."""

import numpy as np
import pytest

from ex2 import formatting as F


def test_mean_std_uses_the_sample_deviation_and_handles_one_value():
    assert F.mean_std([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1.0))
    assert F.mean_std([5.0]) == (5.0, 0.0)
    assert F.pm([0.1, 0.2, 0.3]) == "20.00 ± 10.00"
    assert F.pm([1.5, 2.5], scale=1, decimals=1) == "2.0 ± 0.7"


def test_number_formats():
    assert F.pct(0.99071) == "99.07 %" and F.pct(1) == "100.00 %"
    assert F.points(0.032, 0.0105) == "+3.20 ± 1.05 points"
    assert F.points(0.0051, 0.001, sign="") == "0.51 ± 0.10 points"
    assert F.l1(0.0312345) == "0.0312"
    assert F.seconds(12.34) == "12.3 s" and F.seconds(1234.5) == "1234 s"
    assert F.count(60000) == "60,000" and F.count(99.6) == "100"
    assert F.ratio(2.345) == "2.35"


def test_table_cells_format_by_type():
    assert F.cell("x|y") == "x|y"
    # a leading list marker would turn the cell into a list (Table 9.1's "3. + augmentation")
    assert F.cell("3. + augmentation") == "3\\. + augmentation"
    assert [F.cell(s) for s in ("+ x", "- x", "* x", "2) x")] == [
        "\\+ x",
        "\\- x",
        "\\* x",
        "2\\) x",
    ]
    assert [F.cell(s) for s in ("3.5", "-1", "a + b", "2.0 s")] == ["3.5", "-1", "a + b", "2.0 s"]
    assert [F.cell(v) for v in (True, np.bool_(False))] == ["yes", "no"]
    assert [F.cell(v) for v in (3, np.int64(60000), 2.0)] == ["3", "60,000", "2"]
    assert F.cell(0.123456) == "0.1235"


def test_list_table_has_a_header_row_widths_caption_and_label():
    text = F.table(["a", "b"], [[1, 0.123456], ["x", ""]], [30, 70], caption="Cap", label="tab-x")
    assert text.splitlines() == [
        "::::{list-table} Cap",
        ":header-rows: 1",
        ":name: tab-x",
        ":widths: 30 70",
        "",
        "* - a",
        "  - b",
        "* - 1",
        "  - 0.1235",
        "* - x",
        "  -  ",
        "::::",
    ]
    assert F.table(["a"], [[1]]).splitlines()[:3] == ["::::{list-table}", ":header-rows: 1", ""]
    # a caption may hold inline code: a backtick fence would end at its first backtick
    assert F.table(["a"], [[1]], caption="See `make bench`.").startswith(
        "::::{list-table} See `make"
    )


def test_escape_neutralises_markdown_punctuation():
    assert F.escape("a_b*c|d<e>") == r"a\_b\*c\|d\<e\>"
    assert F.escape("plain text, 1.5") == "plain text, 1.5"
