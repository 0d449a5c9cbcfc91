"""README and docs/: every relative link points at a file that exists, and every #anchor at a
heading of that page (GitHub's anchor rule: lower case, punctuation dropped, spaces to dashes)."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT

PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]


def anchors(page) -> set[str]:
    found = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if heading := re.match(r"#+\s+(.*)", line):
            found.add(re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-"))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_and_anchors_resolve(page):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)  # not inside code blocks
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"


def test_the_anchor_rule_is_githubs():
    assert "published-protocols" in anchors(ROOT / "docs" / "datasets.md")
    assert "intervals-paired-tests-and-repeated-seeds" in anchors(ROOT / "docs" / "results.md")
