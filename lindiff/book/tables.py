"""The small table a check cell prints before it asserts.

A chapter's check cell states the equation it checks, prints the numbers it compares as one small table,
and asserts. :func:`print_table` is that table: one column per quantity, numbers right-aligned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["print_table"]


def _cell(value, fmt: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    try:
        return format(value, fmt)
    except (TypeError, ValueError):
        return str(value)


def print_table(title: str, columns: Mapping[str, Sequence], fmt: str | Mapping[str, str] = ".4g") -> None:
    """Print ``columns`` (``{header: values}``, all of one length) under ``title``.

    ``fmt`` is a format spec for every number, or ``{header: spec}`` per column (default ``.4g``);
    strings are printed as they are (a column of strings left-aligned) and booleans as yes/no.
    """
    if not isinstance(title, str):
        raise TypeError(f"title must be a string, got {type(title).__name__}")
    if not isinstance(columns, Mapping) or not columns:
        raise ValueError("columns must be a non-empty mapping {header: values}")
    values = {h: list(v) if not isinstance(v, str) else [v] for h, v in columns.items()}
    lengths = {len(v) for v in values.values()}
    if len(lengths) != 1:
        raise ValueError(f"columns must all have one length, got { {h: len(v) for h, v in values.items()} }")
    formats = dict(fmt) if isinstance(fmt, Mapping) else {h: fmt for h in values}
    unknown = set(formats) - set(values)
    if unknown:
        raise ValueError(f"fmt names columns that do not exist: {sorted(unknown)}")
    text = {h: [_cell(x, formats.get(h, ".4g")) for x in v] for h, v in values.items()}
    widths = {h: max(len(h), *(len(s) for s in text[h])) for h in text}
    # text columns read left-aligned, numbers right-aligned
    align = {h: str.ljust if all(type(x) is str for x in v) else str.rjust for h, v in values.items()}
    print(title)
    print("  ".join(align[h](h, widths[h]) for h in text).rstrip())
    for row in zip(*text.values()):
        print("  ".join(align[h](s, widths[h]) for h, s in zip(text, row)).rstrip())
