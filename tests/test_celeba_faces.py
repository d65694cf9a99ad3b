"""No CelebA face in any stored output: its terms forbid redistributing any part of its images.

A chapter may show real faces (e.g. nearest training images) only to a reader who runs it on their
own copy, in a code cell tagged ``celeba-faces``: the website leaves that cell out (``remove-cell``,
and ``remove-output`` for an executed build) and scripts/refresh_notebooks.py never stores its
outputs. The rest of a chapter shows derived, non-identifying statistics (mean face, eigenfaces,
samples of the model at large N).

Which cells show real faces is found from their source (Python's ``ast``): the arrays that hold
CelebA images are the results of ``load_dataset("celeba", ...)`` and whatever is built from them by
indexing, slicing or collecting them into lists, tuples and dicts (a function call makes a new,
derived array: a mean, a spectrum, samples). An element of a dict taken with a literal key other
than ``"celeba"`` (``train["mnist"]``) is not a face. A cell that draws an image grid
(``show_images``, ``tile_images``, ``imshow``) and loads or uses such an array must carry the tag.
A ``load_dataset`` call whose data set is computed (a loop over names) must sit in a cell that
excludes CelebA explicitly (``!= "celeba"``), since the rule cannot follow the loop.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
TAG = "celeba-faces"
GRID = {"show_images", "tile_images", "imshow"}


def _name(func) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _literal(node):
    return node.value if isinstance(node, ast.Constant) else None


def _is_load(node) -> bool:
    return isinstance(node, ast.Call) and _name(node.func) == "load_dataset" and bool(node.args)


def _loads_celeba(node) -> bool:
    return _is_load(node) and _literal(node.args[0]) == "celeba"


def _parse(source: str) -> ast.Module:
    # IPython escapes (%pip, !cmd) are not Python: blank them out
    return ast.parse(re.sub(r"(?m)^(\s*)[%!].*$", r"\1pass", source))


def _parents(tree) -> dict:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _other_key(subscript: ast.Subscript) -> bool:
    """d["mnist"] or d["mnist", N]: an element under a literal key that is not CelebA's."""
    key = subscript.slice
    if isinstance(key, ast.Tuple) and key.elts:
        key = key.elts[0]
    value = _literal(key)
    return isinstance(value, str) and value != "celeba"


def _face_uses(node, tainted: set, parents: dict, through_calls: bool) -> bool:
    """Does ``node`` hold CelebA images: a celeba load, or a use of a tainted name (not under a call)?"""
    for sub in ast.walk(node):
        if _loads_celeba(sub):
            return True
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id in tainted:
            parent = parents.get(sub)
            if isinstance(parent, ast.Subscript) and parent.value is sub and _other_key(parent):
                continue
            if not through_calls:
                up, under_call = parents.get(sub), False
                while up is not None:
                    if isinstance(up, ast.Call) and sub is not up.func:
                        under_call = True
                        break
                    if up is node:
                        break
                    up = parents.get(up)
                if under_call:
                    continue
            return True
    return False


def _base(target):
    while isinstance(target, (ast.Subscript, ast.Attribute, ast.Starred)):
        target = target.value
    # "_" is a throwaway name: what is assigned to it is never used
    return target.id if isinstance(target, ast.Name) and target.id != "_" else None


def _taint(tree, tainted: set, parents: dict) -> None:
    """Add to ``tainted`` the names that the assignments of ``tree`` fill with CelebA images."""
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            pairs = [(target, node.value)]
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                pairs = list(zip(target.elts, node.value.elts))
            for tgt, value in pairs:
                if _loads_celeba(value):  # (images, shape): only the images are faces
                    tgt = tgt.elts[0] if isinstance(tgt, ast.Tuple) else tgt
                    if _base(tgt):
                        tainted.add(_base(tgt))
                elif _face_uses(value, tainted, parents, through_calls=False):
                    for leaf in tgt.elts if isinstance(tgt, ast.Tuple) else [tgt]:
                        if _base(leaf):
                            tainted.add(_base(leaf))


def face_cells(nb) -> list[int]:
    """Indices of the code cells that draw an image grid of real CelebA images."""
    tainted: set = set()
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tree = _parse(cell.source)
        parents = _parents(tree)
        _taint(tree, tainted, parents)
        draws = any(isinstance(n, ast.Call) and _name(n.func) in GRID for n in ast.walk(tree))
        if draws and _face_uses(tree, tainted, parents, through_calls=True):
            found.append(index)
    return found


def computed_loads(nb) -> list[int]:
    """Indices of code cells with a load_dataset(<computed name>) that do not exclude CelebA."""
    return [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and any(_is_load(n) and _literal(n.args[0]) is None for n in ast.walk(_parse(cell.source)))
        and '!= "celeba"' not in cell.source
    ]


def _cell(source, tags=(), outputs=()):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = list(tags)
    cell.outputs = list(outputs)
    return cell


def _nb(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [_cell(s) for s in sources]
    return nb


CHAPTERS = sorted(BOOK.glob("*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_cells_that_show_real_faces_are_tagged_and_stored_empty(path):
    nb = nbformat.read(path, as_version=4)
    for index in face_cells(nb):
        tags = nb.cells[index].metadata.get("tags", [])
        assert TAG in tags, f"{path.name}, cell {index} shows CelebA images but is not tagged {TAG}"
    for index, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        if TAG in tags:
            assert {"remove-cell", "remove-output"} <= set(tags), f"{path.name}, cell {index}: not hidden"
            assert cell.cell_type == "code" and cell.outputs == [], f"{path.name}, cell {index} has outputs"
    assert computed_loads(nb) == [], f"{path.name}: load_dataset(<computed name>) without excluding celeba"


def test_chapter_5_shows_faces_only_in_tagged_cells():
    nb = nbformat.read(BOOK / "05_real_images.ipynb", as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if TAG in c.metadata.get("tags", [])]
    assert len(tagged) == 2 and face_cells(nb) == tagged


def test_the_rule_finds_faces_and_only_faces():
    # direct: load and draw in one cell
    assert face_cells(_nb('X, s = data.load_dataset("celeba", n=12)\nshow_images(ax, X, s, ncols=12)')) == [0]
    # through indexing and a dict, in a later cell; a variable key may be CelebA's
    nb = _nb(
        'X, s = data.load_dataset("celeba")\ntrain = {"mnist": M, "celeba": X[:8000]}',
        "near = {}\nfor n in PRE:\n    near[n] = train[n][:N][idx]",
        'images.show_images(ax, near["mnist"], s, ncols=6)',  # MNIST's entry: fine
        "images.show_images(ax, near[name], s, ncols=6)",
        "grid = tile_images(np.vstack([X[:3], X[3:6]]), s, 3)",  # under a call, still drawn
    )
    assert face_cells(nb) == [3, 4]
    # derived statistics are not faces: a mean, a spectrum, samples of a model fitted to them
    nb = _nb(
        'X, s = data.load_dataset("celeba")\nmu, ev, V = data.dataset_spectrum("celeba")',
        "m = X.mean(0)\nsamples = model.sample(6)\nd, i = nearest_training_point(samples, X)",
        "show_images(ax, np.vstack([m, V[:, :3].T]), s, ncols=4)\nshow_images(ax, samples, s, ncols=6)",
    )
    assert face_cells(nb) == []
    # a computed data-set name must exclude CelebA explicitly
    assert computed_loads(_nb("for n in SETS:\n    X[n], s[n] = data.load_dataset(n)")) == [0]
    assert computed_loads(_nb('for n in [n for n in SETS if n != "celeba"]:\n    X[n] = data.load_dataset(n)')) == []


def _refresh_module():
    spec = importlib.util.spec_from_file_location("refresh_notebooks", ROOT / "scripts" / "refresh_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_refresh_script_never_stores_the_faces():
    refresh = _refresh_module()
    png = nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    text = nbformat.v4.new_output("stream", name="stdout", text="MNIST 30.7\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("print('MNIST 30.7')", outputs=[text]),
        _cell("show_images(ax, faces, s, 6)", tags=["remove-cell", "remove-output", TAG], outputs=[png, text]),
        _cell("show_images(ax, digits, s, 6)", tags=["hide-input"], outputs=[png]),
    ]
    refresh.strip_volatile(nb)
    assert [len(c.outputs) for c in nb.cells] == [1, 0, 1]
    assert [c.execution_count for c in nb.cells] == [1, 2, 3]
