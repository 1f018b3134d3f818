"""The leaderboard page in a real browser: headless Chromium opens index.html from disk.

Needs chromium + chromedriver (``tests/browser/ensure_chromium.sh`` installs them on Debian as root;
tox runs it first) and selenium (the ``dev`` extra). Without them the test skips locally and fails
when the CI environment variable is set.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from divbench import leaderboard as lb
from tests.leaderboard_helpers import HOSTILE, IMG, SCRIPT, hostile_texts, make_run, persona_texts

BROWSERS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
DRIVERS = ("/usr/bin/chromedriver",)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1300,1000")
LABEL = 'evil <b onmouseover="window.__pwned=3">label</b>'


def _first(env: str, candidates: tuple[str, ...], name: str) -> str | None:
    found = os.environ.get(env) or next((c for c in candidates if Path(c).exists()), None) or shutil.which(name)
    return found if found and Path(found).exists() else None


def _tools() -> tuple[str, str]:
    browser = _first("DIVBENCH_CHROMIUM", BROWSERS, "chromium")
    driver = _first("DIVBENCH_CHROMEDRIVER", DRIVERS, "chromedriver")
    missing = [what for what, ok in (("chromium", browser), ("chromedriver", driver)) if not ok]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (the dev extra)")
    if missing:
        why = (f"the browser test needs {', '.join(missing)}: run `sh tests/browser/ensure_chromium.sh` "
               "(Debian, as root) and `pip install -e .[dev]`")
        if os.environ.get("CI"):
            pytest.fail(f"{why}; CI is set, so this fails instead of skipping")
        pytest.skip(why)
    return browser, driver  # type: ignore[return-value]


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    browser, chromedriver = _tools()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    drv = webdriver.Chrome(service=Service(chromedriver), options=options)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    """A board of four fake runs; one holds hostile texts and a hostile label."""
    root = tmp_path_factory.mktemp("runs")
    make_run(root, "diverse", "diverse", "diverse")
    make_run(root, "collapsed", "collapsed", "collapsed")
    make_run(root, "cooler", "diverse", "diverse T0.5",
             tasks=(("toy_text", {"sampling": {"temperature": 0.5}}), ("toy_choice", {})))
    make_run(root, "hostile", "diverse", LABEL, rewrite=lambda line: (hostile_texts(line), persona_texts(line)),
             tasks=(("toy_text", {}), ("persona", {"limit": 2, "sampling": {"n": 4}})))
    out = tmp_path_factory.mktemp("board")
    lb.write(lb.build(root), out)
    return out / "index.html"


def _assert_nothing_ran(drv) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    assert drv.execute_script("return typeof window.__pwned") == "undefined"
    assert drv.title == "divbench leaderboard"
    assert drv.execute_script("return document.scripts.length") == 0
    assert drv.execute_script("return document.images.length") == 0
    with pytest.raises(NoAlertPresentException):
        drv.switch_to.alert.text  # noqa: B018 - raises when no alert is open


def _texts(drv, selector: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.get_attribute("textContent") for e in drv.find_elements(By.CSS_SELECTOR, selector)]


def test_rows_plots_and_inert_hostile_texts(driver, page):
    from selenium.webdriver.common.by import By

    driver.get(page.as_uri())
    assert driver.title == "divbench leaderboard"
    rows = driver.find_elements(By.CSS_SELECTOR, "#overview tbody tr")
    assert len(rows) == 4
    labels = {r.find_element(By.CSS_SELECTOR, "td.sys").get_attribute("textContent") for r in rows}
    assert labels == {"diverse", "collapsed", "diverse T0.5", LABEL}  # the label's markup is text
    charts = driver.find_elements(By.CSS_SELECTOR, "svg.chart")
    labels_of_charts = [c.get_attribute("aria-label") for c in charts]
    assert any(x.startswith("distribution over options, toy_choice") for x in labels_of_charts)
    assert any("against cost" in x for x in labels_of_charts)
    assert any("against temperature" in x for x in labels_of_charts)
    assert any(x.startswith("gender breakdown") for x in labels_of_charts)
    assert all(c.size["width"] > 100 and c.size["height"] > 50 for c in charts)  # laid out, not empty
    texts = _texts(driver, "#viewer li")
    for payload in HOSTILE:
        assert payload in texts  # shown verbatim, as text
    visible = driver.find_element(By.CSS_SELECTOR, "#viewer").text
    assert SCRIPT in visible and IMG in visible  # the first prompt is open: the payloads are on screen
    _assert_nothing_ran(driver)


def test_escaping_alone_keeps_payloads_inert(driver, page, tmp_path):
    """Without the Content-Security-Policy, escaping still keeps every payload from running."""
    bare = page.read_text(encoding="utf-8")
    start = bare.index('<meta http-equiv="Content-Security-Policy"')
    bare = bare[:start] + bare[bare.index(">", start) + 1 :]
    copy = tmp_path / "index.html"
    copy.write_text(bare, encoding="utf-8")
    driver.get(copy.as_uri())
    assert SCRIPT in _texts(driver, "#viewer li")
    _assert_nothing_ran(driver)


def test_the_payloads_would_run_if_they_were_markup(driver, tmp_path):
    """Control: in this browser an unescaped payload does run, so the checks above mean something."""
    control = tmp_path / "control.html"
    control.write_text(f"<!DOCTYPE html><title>divbench leaderboard</title><body>{IMG}</body>", encoding="utf-8")
    driver.get(control.as_uri())
    driver.implicitly_wait(0)
    for _ in range(50):
        if driver.execute_script("return window.__pwned") == 2:
            break
        driver.execute_script("return 0")
    assert driver.execute_script("return window.__pwned") == 2
