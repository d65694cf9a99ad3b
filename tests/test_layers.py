"""The three layers of lindiff import only downward (the rule in ``lindiff/__init__.py``'s docstring).

The mathematics (``lindiff`` outside ``lindiff/data`` and ``lindiff/book``) imports neither layer
above it, ``lindiff.data`` does not import ``lindiff.book``, and ``import lindiff`` loads neither
torch nor matplotlib.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lindiff"


def _layer(path: Path) -> str:
    """ "book", "data" or "maths" for a module file under lindiff/."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 and parts[0] in ("book", "data") else "maths"


def _imported(path: Path) -> set[str]:
    """Absolute names of the lindiff modules (or names) that a module file imports, anywhere in it."""
    module = ["lindiff", *path.relative_to(PACKAGE).with_suffix("").parts]
    package = module if module[-1] == "__init__" else module[:-1]
    package = [p for p in package if p != "__init__"]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return {n for n in names if n == "lindiff" or n.startswith("lindiff.")}


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_layer_above_its_own(path):
    forbidden = {"maths": ("lindiff.data", "lindiff.book"), "data": ("lindiff.book",), "book": ()}[_layer(path)]
    upward = sorted(n for n in _imported(path) for f in forbidden if n == f or n.startswith(f + "."))
    assert not upward, f"{path.relative_to(PACKAGE)} ({_layer(path)}) imports a layer above it: {upward}"


def test_the_import_parser_sees_relative_imports():
    """The check above is not vacuous: it resolves relative imports of the upper layers."""
    assert "lindiff.data.cache" in _imported(PACKAGE / "data" / "sources.py")
    assert "lindiff.data" in _imported(PACKAGE / "book" / "chapters.py")
    assert "lindiff._checks" in _imported(PACKAGE / "book" / "style.py")
    assert _layer(PACKAGE / "kl.py") == "maths" and _layer(PACKAGE / "data" / "cache.py") == "data"


def test_import_lindiff_loads_neither_torch_nor_matplotlib():
    code = (
        "import json, sys; import lindiff; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'matplotlib'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_import_lindiff_data_loads_neither_torch_nor_matplotlib():
    code = (
        "import json, sys; import lindiff.data; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'matplotlib'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def _is_module(dotted: str) -> bool:
    rel = Path(*dotted.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def _private_imports(path: Path, source: str | None = None) -> set[str]:
    """lindiff names starting with one underscore that ``path`` imports from another module, or
    reaches as ``module._name`` on a lindiff module it imported (private modules such as ``_checks``
    are shared on purpose and count as public)."""
    module = ["lindiff", *path.relative_to(PACKAGE).with_suffix("").parts]
    package = [p for p in (module if module[-1] == "__init__" else module[:-1]) if p != "__init__"]
    tree = ast.parse(path.read_text() if source is None else source, filename=str(path))
    found, aliases = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            if not (target == "lindiff" or target.startswith("lindiff.")):
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}"
                if _is_module(full):
                    aliases[alias.asname or alias.name] = full
                elif alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.add(full)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("lindiff"):
                    aliases[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            if node.attr.startswith("_") and not node.attr.startswith("__"):
                full = f"{aliases[node.value.id]}.{node.attr}"
                if not _is_module(full):
                    found.add(full)
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_crosses_a_module_boundary(path):
    """A name shared between modules is public (or lives where it is used): ``from .x import _y`` and
    ``x._y`` are refused (issue 24)."""
    rel = path.relative_to(PACKAGE).as_posix()
    crossing = sorted(_private_imports(path))
    assert not crossing, f"{rel} uses private names of other modules: {crossing}"


def test_the_private_import_check_is_not_vacuous():
    """Both forms are caught, as if networks.py held them; shared private modules and dunders are not."""
    source = "from .train import _hidden, checked_device\nfrom . import sampler, _checks\nsampler._run()\n"
    source += "_checks.as_mean\nfrom .schedule import __doc__\n"
    assert _private_imports(PACKAGE / "networks.py", source) == {"lindiff.train._hidden", "lindiff.sampler._run"}
