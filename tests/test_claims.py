"""lindiff.book.claims reads back exactly what myst-nb's glue stored in an executed notebook."""

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from lindiff.book.claims import (
    Claim,
    chapter_title,
    claims_table_html,
    evaluate_claims,
    glued_value,
    glued_values,
    inline_math_html,
)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """A notebook that glues a float, an int, a numpy float and a string, executed for real."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A tiny chapter\n\ntext"),
        nbformat.v4.new_code_cell(
            "import numpy as np\nfrom myst_nb import glue\n"
            "glue('x', 0.1 + 0.2, display=False)\nglue('n', 51, display=False)\n"
            "glue('npf', np.float64(2.5), display=False)\nglue('s', 'word', display=False)\n"
            "print('not glued')"
        ),
    ]
    path = tmp_path_factory.mktemp("nb") / "tiny.ipynb"
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    nbformat.write(nb, path)
    return path


def test_glued_values_round_trip(executed):
    values = glued_values(executed)
    assert values["x"] == 0.1 + 0.2  # full precision survives
    assert values["n"] == 51 and isinstance(values["n"], int)
    assert values["npf"] == 2.5
    assert values["s"] == "word"
    assert set(values) == {"x", "n", "npf", "s"}


def test_glued_value_missing_names_the_keys(executed):
    with pytest.raises(KeyError, match="glues no value 'y'"):
        glued_value(executed, "y")


def test_evaluate_claims_and_table(executed):
    claims = [
        Claim("three tenths", "tiny", "x = {x:.2f}, n = {n}", lambda v: np.isclose(v["x"], 0.3), "ok"),
        Claim("false claim", "tiny", "n = {n}", lambda v: v["n"] < 0),
    ]
    rows = evaluate_claims(claims, executed.parent)
    assert [r["holds"] for r in rows] == [True, False]
    assert rows[0]["measured"] == "x = 0.30, n = 51"
    html = claims_table_html(rows, {"tiny": chapter_title(executed)})
    assert html.count("<tr>") == 3 and 'href="tiny.html"' in html and "A tiny chapter" in html
    assert "<b>no</b>" in html


def test_inline_math_becomes_the_span_sphinx_writes():
    out = inline_math_html(r"learns $\rho_N = \mathcal N(\mu_0, \Sigma_0)$ if $a < b$ & more")
    assert out == (
        r'learns <span class="math notranslate nohighlight">\(\rho_N = \mathcal N(\mu_0, \Sigma_0)\)</span>'
        r' if <span class="math notranslate nohighlight">\(a &lt; b\)</span> &amp; more'
    )
    assert inline_math_html("no formula") == "no formula"
    with pytest.raises(ValueError, match=r"unbalanced \$"):
        inline_math_html("costs $5")
    rows = [{"claim": "$x_1$", "chapter": "c", "measured": "$N = 3$", "holds": True, "comment": ""}]
    assert claims_table_html(rows, {}).count('class="math notranslate nohighlight"') == 2


def test_unknown_key_in_template_raises(executed):
    with pytest.raises(KeyError, match="tiny.ipynb glues no value"):
        evaluate_claims([Claim("c", "tiny", "{missing}", lambda v: True)], executed.parent)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        glued_values(tmp_path / "none.ipynb")
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a valid notebook"):
        glued_values(bad)
    empty = tmp_path / "empty.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), empty)
    assert glued_values(empty) == {}
