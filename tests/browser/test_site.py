"""The built book in headless Chromium, one test per page (checks: browser_checks.SiteChecker).

    pytest tests/browser/test_site.py                     every page of _build/html
    pytest tests/browser/test_site.py -k 05_real_images   one page
    pytest tests/browser/test_site.py --site DIR          another build (or LINDIFF_SITE=DIR)

Skipped, saying so, when the site is not built. Screenshots go to _build/screenshots/ (next to the
site folder); under pytest-xdist (-n 2, as scripts/publish.sh runs it) the pages are shared out
between the workers. Each page's facts (math elements, images, figures, widgets, sliders, links, axe
findings allowed, seconds) are printed (-s, or -rA) and recorded as the test's properties.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from browser_checks import SiteChecker, html_pages, skip_or_fail

pytestmark = pytest.mark.browser


def site_dir(config) -> Path:
    opt = Path(config.getoption("--site"))
    if opt.is_absolute():
        return opt
    here = config.invocation_params.dir / opt
    return here if here.exists() else config.rootpath / opt


def pytest_generate_tests(metafunc):
    if "page" in metafunc.fixturenames:
        site = site_dir(metafunc.config)
        pages = html_pages(site) if (site / "index.html").is_file() else ["(site not built)"]
        metafunc.parametrize("page", pages)


@pytest.fixture(scope="module")
def site(request, playwright, record_axe_allowlist):
    folder = site_dir(request.config)
    if not (folder / "index.html").is_file():
        skip_or_fail(f"{folder}/index.html not found: build the book first (bash scripts/build-book.sh)")
    shots = folder.parent / "screenshots"
    if not hasattr(request.config, "workerinput"):  # under pytest-xdist, workers share the folder
        shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True, exist_ok=True)
    with SiteChecker(playwright, folder, shot_dir=shots) as checker:
        yield checker
        # which allowlist entries were needed: tests/browser/conftest.py notes those no page needed
        record_axe_allowlist(checker)
        print(
            f"\nsite: {checker.checked} pages checked here, {len(checker.external)} requests to other hosts blocked, "
            f"accessibility audit {checker.axe_seconds:.1f} s, screenshots in {shots}"
        )


def test_page(site, page, record_property):
    problems, facts = site.check(page)
    site.checked += 1
    for key, value in facts.items():
        record_property(key, value)
    print(f"{page}: {facts}")
    assert not problems, f"{page}: {len(problems)} problems:\n  - " + "\n  - ".join(problems)
