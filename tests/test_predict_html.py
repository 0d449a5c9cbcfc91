"""``predict --html``'s page (mgc.predict.html): escaping, self-containment, one row per file, the
players' relative paths; then the page in a real headless Chromium (Debian's ``chromium`` and
``chromedriver``): no console errors, filtering, sorting, searching and playing a real recording.

The browser test is skipped where Chromium or its driver is missing, unless ``MGC_REQUIRE_BROWSER``
is set (CI sets it): then it fails.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import MUSIC, REAL_AUDIO
from mgc.predict.html import render_html, segment_timelines, write_html
from mgc.predict.table import OutputError

LABELS = ["blues", "classical", "jazz", "rock"]
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
CHROME_ARGS = ("--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
               "--disable-component-update --disable-sync --window-size=1400,900").split()


def record(path, genre="rock", confidence=0.9, status="ok", reason="", strings=False) -> dict:
    """A row of the per-file table; ``strings``: as read back from the CSV (floats as text, None empty)."""
    failed = status == "failed"
    row = {"path": str(path), "genre": "" if failed else genre, "confidence": None if failed else confidence,
           "status": status, "reason": reason}
    rest = (1 - confidence) / (len(LABELS) - 1)
    for label in LABELS:
        row[f"p_{label}"] = None if failed else (confidence if label == genre else rest)
    if strings:
        row = {k: "" if v is None else (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()}
    return row


def rows_of(page: str) -> list[str]:
    return re.findall(r'<tr class="file"[^>]*>', page)


# -- the page as text ----------------------------------------------------------------------------------


def test_a_nasty_path_is_escaped_everywhere(tmp_path):
    nasty = tmp_path / "lib" / "a <img src=x onerror=alert(1)>\"quoted\" & 'x' é <script>.ogg"
    nasty.parent.mkdir()
    nasty.write_bytes(b"OggS")
    page = render_html([record(nasty, reason="")], LABELS, base_dir=tmp_path,
                       timelines={str(nasty): [(0, 30, "rock", 0.9)]}, title="<my> & library", model='m"<1>')
    assert "<img" not in page and "<script>.ogg" not in page and 'm"<1>' not in page
    assert "&lt;img src=x onerror=alert(1)&gt;&quot;quoted&quot; &amp; &#x27;x&#x27; é &lt;script&gt;.ogg" in page
    assert "<title>&lt;my&gt; &amp; library</title>" in page
    assert ('data-src="lib/a%20%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E%22quoted%22%20%26%20%27x%27%20%C3%A9%20'
            '%3Cscript%3E.ogg"') in page


def test_the_page_is_self_contained(tmp_path):
    files = [tmp_path / f"{i}.ogg" for i in range(3)]
    for f in files:
        f.write_bytes(b"OggS")
    page = render_html([record(f) for f in files], LABELS, base_dir=tmp_path,
                       timelines={str(f): [(0, 30, "rock", 0.9), (30, 41.5, "jazz", 0.6)] for f in files})
    lowered = page.lower()
    for outside in ("http://", "https://", "<script src", "<link", "@import", "url("):
        assert outside not in lowered
    assert lowered.count("<script") == 1
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_one_row_per_record_failed_and_unknown_included(tmp_path):
    records = [record("a.ogg", "rock", 0.9), record("b.ogg", "jazz", 0.8), record("c.ogg", "unknown", 0.3),
               record("d.mp3", status="failed", reason="cannot decode: <no audio>")]
    page = render_html(records, LABELS)
    assert [re.search(r'data-genre="([^"]*)"', r)[1] for r in rows_of(page)] == ["rock", "jazz", "unknown", "failed"]
    assert "cannot decode: &lt;no audio&gt;" in page
    assert "<li><b>4</b> files</li><li><b>2</b> ok</li><li><b>1</b> unknown</li><li><b>1</b> failed</li>" in page
    menu = re.search(r'<select id="genre-filter">(.*?)</select>', page)[1]
    assert re.findall(r'value="([^"]*)"', menu) == ["", "jazz", "rock", "unknown", "failed"]
    bars = re.findall(r'<div class="bar" data-genre="([^"]*)".*?<span class="n">([^<]*)</span>', page)
    assert bars == [("blues", "0 (0.0 %)"), ("classical", "0 (0.0 %)"), ("jazz", "1 (25.0 %)"),
                    ("rock", "1 (25.0 %)"), ("unknown", "1 (25.0 %)"), ("failed", "1 (25.0 %)")]
    assert "4 of 4 files shown" in page
    assert render_html([], LABELS).count('<tr class="file"') == 0


def test_csv_strings_and_json_floats_make_the_same_page():
    records = [record("a.ogg", "rock", 0.912345), record("b.ogg", status="failed", reason="silent")]
    as_csv = [record("a.ogg", "rock", 0.912345, strings=True),
              record("b.ogg", status="failed", reason="silent", strings=True)]
    assert as_csv[0]["confidence"] == "0.912345" and as_csv[1]["p_rock"] == ""
    page = render_html(records, LABELS)
    assert render_html(as_csv, LABELS) == page
    assert 'data-confidence="0.912345"' in page and "91.2 %" in page
    assert 'title="rock 91.2 %, blues 2.9 %, classical 2.9 %"' in page  # the likeliest three


def test_players_are_relative_quoted_and_only_for_existing_files(tmp_path):
    song = tmp_path / "library" / "disc 1" / "Ça & va.ogg"
    song.parent.mkdir(parents=True)
    song.write_bytes(b"OggS")
    records = [record(song), record(tmp_path / "library" / "gone.ogg"), record("https://example.org/x.ogg")]
    page = render_html(records, LABELS, base_dir=tmp_path / "reports")
    assert re.findall(r'data-src="([^"]*)"', page) == ["../library/disc%201/%C3%87a%20%26%20va.ogg"]
    assert render_html(records, LABELS).count('class="play"') == 0  # no base_dir: no relative path to give


def test_timelines_colour_each_window_with_a_tooltip():
    timelines = {"a.ogg": [(0.0, 30.0, "rock", 0.91), ("30.0", "60.0", "jazz", "0.55"), (60.0, 75.2, "unknown", 0.2)]}
    page = render_html([record("a.ogg"), record("b.ogg", "jazz")], LABELS, timelines=timelines)
    pieces = re.findall(r'<span class="(c\w+)" style="left:([\d.]+)%;width:([\d.]+)%" title="([^"]*)"', page)
    assert [(c, t) for c, _, _, t in pieces] == [("c3", "0:00\u20130:30 rock 91 %"), ("c2", "0:30\u20131:00 jazz 55 %"),
                                                  ("cu", "1:00\u20131:15 unknown 20 %")]
    assert sum(float(w) for _, _, w, _ in pieces) == pytest.approx(100, abs=0.01)
    assert page.count('<div class="tl"') == 1  # b.ogg has none
    assert ".c3 { --c: #e15759; }" in page and ".cu { --c: #b0b0b0; }" in page  # by the label's place, unknown grey


def test_timelines_from_the_segments_table():
    segments = [{"path": "a.ogg", "start": "0.000", "end": "30.000", "genre": "rock", "confidence": "0.910000"},
                {"path": "b.ogg", "start": 0.0, "end": 12.5, "genre": "jazz", "confidence": 0.5, "p_jazz": 0.5},
                {"path": "a.ogg", "start": "30.000", "end": "41.000", "genre": "unknown", "confidence": "0.2"}]
    timelines = segment_timelines(segments)
    assert timelines == {"a.ogg": [("0.000", "30.000", "rock", "0.910000"), ("30.000", "41.000", "unknown", "0.2")],
                         "b.ogg": [(0.0, 12.5, "jazz", 0.5)]}
    page = render_html([record("a.ogg"), record("b.ogg", "jazz")], LABELS, timelines=timelines)
    assert page.count('<div class="tl"') == 2 and 'title="0:30\u20130:41 unknown 20 %"' in page


def test_write_html_writes_atomically_beside_the_library(tmp_path):
    song = tmp_path / "music" / "song.ogg"
    song.parent.mkdir()
    song.write_bytes(b"OggS")
    out = write_html(tmp_path / "out" / "report.html", [record(song)], LABELS, model="saved_models/x")
    assert out == tmp_path / "out" / "report.html"
    text = out.read_text(encoding="utf-8")
    assert 'data-src="../music/song.ogg"' in text and "model saved_models/x" in text
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]
    (tmp_path / "taken").mkdir()
    with pytest.raises(OutputError, match="--html"):
        write_html(tmp_path / "taken", [record(song)], LABELS)


# -- the page in a browser -----------------------------------------------------------------------------


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium through Debian's chromedriver (Selenium Manager never asked to download
    anything), a fresh profile, the console log kept; skipped where missing unless $MGC_REQUIRE_BROWSER."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium")
    if missing:
        if os.environ.get("MGC_REQUIRE_BROWSER"):
            pytest.fail(f"MGC_REQUIRE_BROWSER is set but {', '.join(missing)} is missing")
        pytest.skip(f"no headless browser: {', '.join(missing)} missing")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


def severe(driver) -> list:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def visible(driver) -> list[tuple[str, str]]:
    """(genre key, confidence) of the rows shown, top to bottom."""
    return [(tr.get_attribute("data-genre"), tr.get_attribute("data-confidence"))
            for tr in driver.find_elements("css selector", "tr.file") if tr.is_displayed()]


def test_the_page_in_headless_chromium(browser, tmp_path):
    from selenium.webdriver.support.ui import Select

    library = tmp_path / "library"
    library.mkdir()
    names = ["Vibe Ace é & co.ogg", "fishin.ogg", "drum-bass.ogg", "waltz.ogg"]  # a space, non-ASCII, '&'
    songs = [library / name for name in names]
    for source, song in zip(MUSIC, songs):
        shutil.copy(REAL_AUDIO / source, song)
    genres, confidences = ["jazz", "rock", "rock", "unknown"], [0.62, 0.95, 0.71, 0.31]
    records = [record(s, g, c) for s, g, c in zip(songs, genres, confidences)]
    records.append(record(library / "broken.mp3", status="failed", reason="cannot decode"))
    timelines = {str(songs[0]): [(0, 10, "jazz", 0.7), (10, 16.7, "rock", 0.5)]}
    page = write_html(tmp_path / "report" / "report.html", records, LABELS, timelines=timelines, model="m")

    browser.get(page.as_uri())
    assert severe(browser) == []
    assert len(browser.find_elements("css selector", "tr.file")) == len(records)
    shown = browser.find_element("id", "shown")
    assert shown.text == "5 of 5 files shown"

    Select(browser.find_element("id", "genre-filter")).select_by_value("rock")
    assert visible(browser) == [("rock", "0.950000"), ("rock", "0.710000")]
    assert shown.text == "2 of 5 files shown"
    Select(browser.find_element("id", "genre-filter")).select_by_value("failed")
    assert [g for g, _ in visible(browser)] == ["failed"] and shown.text == "1 of 5 files shown"
    Select(browser.find_element("id", "genre-filter")).select_by_value("")

    header = browser.find_element("css selector", "th[data-sort=confidence]")
    header.click()  # numbers: the largest first, files without one last
    assert [c for _, c in visible(browser)] == ["0.950000", "0.710000", "0.620000", "0.310000", ""]
    assert header.get_attribute("aria-sort") == "descending"
    header.click()
    assert [c for _, c in visible(browser)] == ["0.310000", "0.620000", "0.710000", "0.950000", ""]
    browser.find_element("css selector", "th[data-sort=name]").click()
    names_shown = [td.text for td in browser.find_elements("css selector", "tr.file td.path")]
    assert names_shown == sorted(names_shown, key=str.lower)

    search = browser.find_element("id", "search")
    search.send_keys("ACE É & CO")  # case-insensitive substring of the path
    assert visible(browser) == [("jazz", "0.620000")] and shown.text == "1 of 5 files shown"
    search.clear()
    search.send_keys("x")
    search.send_keys("\b")
    assert shown.text == "5 of 5 files shown"

    assert len(browser.find_elements("css selector", "button.play")) == 4  # not the failed file
    browser.find_element("css selector", 'tr.file[data-genre="jazz"] button.play').click()
    loaded = browser.execute_async_script("""
        var done = arguments[arguments.length - 1], audio = document.querySelector("tr.file audio");
        if (audio.readyState >= 1) { done(audio.duration); return; }
        audio.addEventListener("loadedmetadata", function () { done(audio.duration); });
        audio.addEventListener("error", function () { done("error " + audio.error.code); });""")
    assert isinstance(loaded, float) and loaded > 1, loaded  # the relative, percent-encoded src found the file
    browser.save_screenshot(str(tmp_path / "report.png"))
    assert severe(browser) == []
