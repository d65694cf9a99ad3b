"""``python -m lindiff.data fetch [NAME ...]`` and ``python -m lindiff.data status``."""

from __future__ import annotations

import argparse
import sys

from .sources import DATASETS, fetch, missing


def main(argv=None) -> int:
    """``python -m lindiff.data fetch [NAME ...]``: download MNIST, Fashion-MNIST and CIFAR-10 (or
    the named ones) ahead of time; ``python -m lindiff.data status``: which data sets are here.

    Exit status 0 on success; 1 if a fetch failed, or if ``status`` finds one of the data sets that
    ``fetch`` downloads missing (CelebA, which cannot be downloaded and which the book can do
    without, is reported but does not change the status)."""
    parser = argparse.ArgumentParser(prog="python -m lindiff.data", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("fetch", help="download data sets into the download folder")
    get.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="mnist, fashion-mnist, cifar10 (default: all three; CelebA cannot be downloaded)",
    )
    sub.add_parser(
        "status",
        help="say for each data set whether it is here, without downloading; exit status 1 if MNIST, "
        "Fashion-MNIST or CIFAR-10 is missing",
    )
    args = parser.parse_args(argv)
    downloadable = [n for n in DATASETS if n != "celeba"]
    if args.command == "status":
        absent = []
        for name in DATASETS:
            why = missing(name, download=False)
            print(f"{name}: {'present' if why is None else 'missing. ' + why}")
            if why is not None and name in downloadable:
                absent.append(name)
        if absent:
            print(f"missing: {', '.join(absent)} (get them with `python -m lindiff.data fetch`)", file=sys.stderr)
        return 1 if absent else 0
    for name in args.names or downloadable:
        try:
            paths = fetch(name)
        except Exception as exc:  # unknown name, CelebA, offline: one line, not a traceback
            print(f"{name}: not fetched: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        for path in paths:
            print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
