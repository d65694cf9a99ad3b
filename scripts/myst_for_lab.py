"""Rewrite the MyST of chapters into constructs that both the site (Jupyter Book 1) and JupyterLab
(jupyterlab-myst) render: the lead runs it on a chapter merged later (e.g. chapter 9).

    python scripts/myst_for_lab.py book/09_trained_networks.ipynb [...]

- a Python role with a title or a tilde, {py:meth}`weights <lindiff.LinearDiffusion.weights>`, keeps
  its target only, {py:meth}`lindiff.LinearDiffusion.weights` (Lab shows the role's text raw);
- a {doc} link becomes a Markdown link to the notebook, [chapter 2](02_linear_model.ipynb) (Lab
  opens it; {doc} pointed at a path without .ipynb);
- an {eq} to another chapter's label becomes [(words of the label)](#eq-label): the site shows the
  equation's number, Lab the words (it cannot resolve another notebook's label).

Idempotent; writes the notebook as nbformat does (indent 1, sorted keys) and names the kernel as
Lab does ("Python 3 (ipykernel)"), so that opening a chapter in Lab changes less of it.
"""

import glob
import json
import re
import sys
from pathlib import Path

BOOK = Path(__file__).resolve().parent.parent / "book"


def labels(path):
    nb = json.loads(Path(path).read_text())
    md = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return set(re.findall(r"\$\$\s*\((eq-[\w-]+)\)", md)) | set(re.findall(r"^\((eq-[\w-]+)\)=", md, re.M))


def words(label):
    w = label.removeprefix("eq-").replace("-", " ")
    return re.sub(r"\bkl\b", "KL", re.sub(r"\bddpm\b", "DDPM", w))


def rewrite(path):
    chapters = {Path(p).stem for p in glob.glob(str(BOOK / "*.ipynb"))}
    own = labels(path)
    nb = json.loads(Path(path).read_text())

    def py(m):
        t = re.match(r"^(.*?)\s*<([^<>]+)>$", m.group(2), re.S)
        return f"{{py:{m.group(1)}}}`{(t.group(2) if t else m.group(2)).lstrip('~')}`"

    def doc(m):
        t = re.match(r"^(.*?)\s*<([^<>]+)>$", m.group(1), re.S)
        text, target = (t.group(1), t.group(2)) if t else (None, m.group(1))
        target = target.lstrip("/").removeprefix("book/")
        if target not in chapters:
            return m.group(0)
        return f"[{text or f'chapter {int(target[:2])}'}]({target}.ipynb)"

    def eq(m):
        return m.group(0) if m.group(1) in own else f"[({words(m.group(1))})](#{m.group(1)})"

    for c in nb["cells"]:
        if c["cell_type"] == "markdown":
            s = "".join(c["source"])
            s = re.sub(r"\{py:(\w+)\}`([^`]*)`", py, s)
            s = re.sub(r"\{doc\}`([^`]*)`", doc, s)
            s = re.sub(r"\{eq\}`([^`]+)`", eq, s)
            c["source"] = s.splitlines(keepends=True)
    nb["metadata"].get("kernelspec", {})["display_name"] = "Python 3 (ipykernel)"
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        rewrite(p)
        print(f"rewritten: {p}")
