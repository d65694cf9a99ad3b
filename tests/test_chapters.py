"""lindiff.book.chapters: what a chapter declares it needs, and the one-line reasons when it is missing."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from lindiff.book import chapters

BOOK = Path(__file__).resolve().parents[1] / "book"


def _notebook(tmp_path, needs=None):
    nb = nbformat.v4.new_notebook()
    if needs is not None:
        nb.metadata["lindiff"] = {"needs": needs}
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_chapter_without_needs_can_always_run(tmp_path):
    path = _notebook(tmp_path)
    assert chapters.chapter_needs(path) == {"datasets": [], "packages": []}
    assert chapters.missing_needs(path) == []


def test_missing_data_set_and_package_each_give_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("LINDIFF_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("LINDIFF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LINDIFF_OFFLINE", "1")
    path = _notebook(tmp_path, {"datasets": ["celeba"], "packages": ["numpy", "no_such_package_xyz"]})
    lines = chapters.missing_needs(path)
    assert len(lines) == 2
    assert lines[0].startswith(f"data set celeba not found in {tmp_path / 'empty' / 'celeba'} or ")
    assert "img_align_celeba.zip" in lines[0] and "licence" in lines[0]  # how to get it, and why not here
    assert lines[1] == "package no_such_package_xyz is not installed: pip install no_such_package_xyz"


def test_unknown_needs_are_an_error(tmp_path):
    with pytest.raises(ValueError, match="unknown keys \\['data'\\]"):
        chapters.chapter_needs(_notebook(tmp_path, {"data": ["mnist"]}))


@pytest.mark.parametrize(("value", "expected"), [(None, False), ("0", False), ("1", True), ("yes", True)])
def test_require_all_switch(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("LINDIFF_REQUIRE_ALL", raising=False)
    else:
        monkeypatch.setenv("LINDIFF_REQUIRE_ALL", value)
    assert chapters.require_all() is expected


def test_the_book_declares_its_data_sets():
    """Every data set a chapter loads is declared, so a reader without it gets a skip, not a crash."""
    for path in sorted(BOOK.glob("*.ipynb")):
        source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        declared = chapters.chapter_needs(path)
        for name in ("mnist", "fashion-mnist", "cifar10", "celeba"):
            if f'"{name}"' in source:
                assert name in declared["datasets"], (path.name, name)
        if "import torch" in source or "lindiff import train" in source:
            assert "torch" in declared["packages"], path.name


def _install_cells(path):
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if "colab-install" in c.metadata.get("tags", [])]


def test_every_chapter_has_chapter_0s_install_cell():
    """One hidden first cell (Colab: install lindiff if missing), the same text in every chapter.

    tests/test_colab_install.py runs chapter 0's in a fresh venv like Colab's.
    """
    (canonical,) = _install_cells(BOOK / "00_first_look.ipynb")
    assert "remove-cell" in canonical.metadata["tags"]
    for path in sorted(BOOK.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cells = _install_cells(path)
        assert len(cells) == 1, f"{path.name}: {len(cells)} cells tagged colab-install, want 1"
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert first_code == cells[0], f"{path.name}: the colab-install cell is not the first code cell"
        assert cells[0].source == canonical.source, f"{path.name}: its colab-install cell differs from chapter 0's"
        assert cells[0].metadata["tags"] == canonical.metadata["tags"], path.name


def test_present_keeps_what_is_here_and_says_what_is_not_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LINDIFF_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("LINDIFF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LINDIFF_OFFLINE", "1")
    assert chapters.present(["mnist", "celeba"], "the sweeps") == []
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"Left out of the sweeps: mnist not found in {tmp_path / 'empty' / 'mnist'} or ")
    assert "downloads are off (LINDIFF_OFFLINE)" in lines[0]
    assert lines[1].startswith("Left out of the sweeps: celeba not found in ") and "licence" in lines[1]
    # a data set that is here: kept, nothing printed
    (tmp_path / "empty").mkdir()
    monkeypatch.setattr(chapters.data, "missing", lambda name: None)
    monkeypatch.setenv("LINDIFF_DATA_DIR", str(tmp_path / "other"))  # a new folder: asked again
    assert chapters.present(["mnist", "celeba"]) == ["mnist", "celeba"]
    assert capsys.readouterr().out == ""
