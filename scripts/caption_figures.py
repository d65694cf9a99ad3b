"""Number, caption and describe a chapter's figures through myst-nb's cell metadata (no re-execution).

    python scripts/caption_figures.py SPEC.json

SPEC.json maps a notebook to its figure cells, each named by its cell id::

    {"book/09_trained_networks.ipynb": [
        {"cell": "1b53932b", "name": "fig-nl-spectra",
         "caption": "What the figure shows ($N$, ...). What to see in it.",
         "alt": "One or two plain sentences that describe the picture, for a screen reader."}
    ]}

Each cell gets ``{"mystnb": {"figure": {"name": ..., "caption": ...}, "image": {"alt": ...}}}``: the
book then shows the image as a numbered figure with that caption (on the website and in the PDF)
and the alt text, and the prose cites it as {numref}`fig-...`. The stored outputs are untouched, so
the chapter needs no refresh. If the first markdown cell after the figure starts its discussion
with ``*What to see:*`` (or ``*What to see (...):*``), that becomes ``*What to see in
{numref}`name`:*``; other prose that discusses the figure must cite it by hand (the script lists
those figures). tests/test_figures.py checks every figure cell of every chapter.

Notebooks are written as they are stored (sorted keys, indent 1, UTF-8, trailing newline), so the
diff is the metadata and the reference only.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

WHAT_TO_SEE = re.compile(r"\*What to see( \([^)]*\))?:\*")


def caption_cell(cell: dict, name: str, caption: str, alt: str) -> None:
    """Write the figure's name, caption and alt text into a code cell's myst-nb metadata."""
    if not re.fullmatch(r"fig-[a-z0-9]+(-[a-z0-9]+)*", name):
        raise ValueError(f"name must look like fig-some-words, got {name!r}")
    if not caption.strip() or not alt.strip():
        raise ValueError(f"{name}: caption and alt must not be empty")
    meta = dict(cell["metadata"])
    mystnb = dict(meta.get("mystnb", {}))
    mystnb["figure"] = {"caption": caption.strip(), "name": name}
    mystnb["image"] = {"alt": alt.strip()}
    meta["mystnb"] = mystnb
    cell["metadata"] = meta


def refer_to(cells: list, index: int, name: str) -> bool:
    """Cite the figure in the "*What to see:*" opening of the next markdown cell; False if there is none."""
    for cell in cells[index + 1 :]:
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        if f"{{numref}}`{name}`" in text:
            return True
        new, n = WHAT_TO_SEE.subn(lambda m: f"*What to see in {{numref}}`{name}`{m.group(1) or ''}:*", text, count=1)
        if not n:
            return False
        cell["source"] = new.splitlines(keepends=True)
        return True
    return False


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    unreferred = []
    for nb_path, figures in spec.items():
        path = Path(nb_path)
        nb = json.loads(path.read_text(encoding="utf-8"))
        by_id = {cell.get("id"): i for i, cell in enumerate(nb["cells"])}
        for fig in figures:
            if fig["cell"] not in by_id:
                raise KeyError(f"{nb_path}: no cell with id {fig['cell']!r}")
            i = by_id[fig["cell"]]
            if nb["cells"][i]["cell_type"] != "code":
                raise ValueError(f"{nb_path}: cell {fig['cell']} is not a code cell")
            caption_cell(nb["cells"][i], fig["name"], fig["caption"], fig["alt"])
            if not refer_to(nb["cells"], i, fig["name"]):
                unreferred.append(f"{nb_path}: {fig['name']}")
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    for line in unreferred:
        print(f"cite by hand (no '*What to see:*' after it): {line}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
