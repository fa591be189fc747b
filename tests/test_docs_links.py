"""The README and the docs: every relative link leads somewhere, and the README stays a tutorial.

Checked in README.md, docs/*.md and each folder's README.md: a link to a file or folder names one
that exists, and a link to a heading (`#anchor`, in the same page or another) names a heading of
that page, as GitHub makes its anchors.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOT

README = ROOT / "README.md"
README_MOST_LINES = 260

PAGES = sorted(
    [README, *(ROOT / "docs").glob("*.md"), *ROOT.glob("*/README.md")],
    key=lambda page: str(page),
)
PAGES = [page for page in PAGES if not page.relative_to(ROOT).parts[0].startswith(".")]

LINK = re.compile(r"!?\[(?P<text>[^\]]*)\]\((?P<target><[^>]*>|[^)\s]*)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+).*?\1")
HEADING = re.compile(r"^(#{1,6})\s+(?P<title>.+?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose_lines(text: str) -> list[str]:
    """The page's lines outside fenced code blocks, with inline code spans blanked."""
    lines, in_fence = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            lines.append(CODE_SPAN.sub("", line))
    return lines


def slug(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    in_fence = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        found.update(HTML_ANCHOR.findall(line))
        heading = HEADING.match(line)
        if heading:
            base = slug(heading.group("title"))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def link_targets(text: str) -> list[str]:
    """The targets of the Markdown links in a text's prose (not in code)."""
    return [
        match.group("target").strip("<>")
        for line in prose_lines(text)
        for match in LINK.finditer(line)
    ]


def links(page: Path) -> list[str]:
    return link_targets(page.read_text(encoding="utf-8"))


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in links(page):
        if not target or SCHEME.match(target):
            continue
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target}: no such heading in {destination.name}")
    return broken


def test_the_pages_checked_include_the_moved_ones():
    names = {str(page.relative_to(ROOT)) for page in PAGES}
    assert {
        "README.md",
        "docs/reliability.md",
        "docs/benchmarks.md",
        "docs/development.md",
        "docs/rehearsal.md",
        "docs/steps.md",
        "localserver/README.md",
        "demo/README.md",
        "bench/README.md",
    } <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    assert broken_links(page) == []


def test_a_broken_link_is_caught(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("# Step 0: check the prerequisites\n\n## Two\n\n## Two\n")
    page.write_text(
        "# Top\n\n[ok](there.md#step-0-check-the-prerequisites) [ok](there.md#two-1) [ok](#top)\n"
        "[gone](missing.md) [no heading](there.md#step-1) [no own heading](#nowhere)\n"
        "`[in code](missing-too.md)` [web](https://example.com/x)\n"
        "```\n[in a fence](missing-three.md)\n```\n"
    )
    assert [entry.partition(": ")[0] for entry in broken_links(page)] == [
        "missing.md",
        "there.md#step-1",
        "#nowhere",
    ]


def test_readme_is_the_tutorial_in_at_most_260_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MOST_LINES, f"README.md has {len(lines)} lines"


def test_readme_table_of_contents_names_every_section():
    text = README.read_text(encoding="utf-8")
    before, contents_heading, rest = text.partition("\n## Contents\n")
    assert contents_heading, "README.md has no '## Contents' section"
    contents, _, body = rest.partition("\n## ")
    linked = {target.lstrip("#") for target in link_targets(contents) if target.startswith("#")}
    sections = [
        slug(match.group("title"))
        for line in prose_lines("## " + body)
        if (match := HEADING.match(line)) and len(match.group(1)) in (2, 3)
    ]
    assert sections and set(sections) <= linked, set(sections) - linked
    # The two commands for a fresh machine come first, before the contents.
    assert "make rehearse" in before and "make test" in before


def test_readme_links_each_page_that_holds_what_moved_out():
    targets = {target.partition("#")[0] for target in links(README)}
    assert {
        "docs/reliability.md",
        "docs/benchmarks.md",
        "docs/development.md",
        "docs/rehearsal.md",
        "docs/steps.md",
        "localserver/README.md",
        "demo/README.md",
    } <= targets
