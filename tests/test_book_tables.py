"""lindiff.book.tables: the check cells' table."""

import pytest

from lindiff.book.tables import print_table


def test_print_table_aligns_columns_and_formats_per_column(capsys):
    print_table("T", {"c": [0.0, 1e-4], "KL": [200.61, float("inf")], "ok": [True, False]}, fmt={"c": ".0e"})
    assert capsys.readouterr().out.splitlines() == [
        "T",
        "    c     KL   ok",
        "0e+00  200.6  yes",
        "1e-04    inf   no",
    ]


@pytest.mark.parametrize(
    ("columns", "fmt", "match"),
    [
        ({}, ".3g", "columns"),
        ({"a": [1, 2], "b": [1]}, ".3g", "one length"),
        ({"a": [1]}, {"b": ".1f"}, "fmt names"),
    ],
)
def test_print_table_refuses_bad_input(columns, fmt, match):
    with pytest.raises(ValueError, match=match):
        print_table("T", columns, fmt)


def test_print_table_left_aligns_text_columns(capsys):
    print_table("T", {"statement": ["short", "a longer one"], "holds": [True, False]})
    assert capsys.readouterr().out.splitlines() == [
        "T",
        "statement     holds",
        "short           yes",
        "a longer one     no",
    ]
