"""Every citation of the project's documents points at something that exists: files named
``docs/...`` are in the repository, a quoted section of docs/design.md is one of its headings or
bold paragraph titles, and no file cites notes the repository does not have."""

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ("README.md", "docs", "cpp", "python", "tests", "benchmarks", "examples", "CMakeLists.txt", ".ci")
TEXT_SUFFIXES = (".md", ".py", ".pyi", ".hpp", ".cpp", ".h", ".txt", ".toml", "run")


def _files():
    for top in SOURCES:
        path = os.path.join(ROOT, top)
        if os.path.isfile(path):
            yield path
        for folder, dirs, names in os.walk(path):
            dirs[:] = [d for d in dirs if not d.startswith((".", "__pycache__"))]
            for name in names:
                if name.endswith(TEXT_SUFFIXES):
                    yield os.path.join(folder, name)


def _texts():
    if not os.path.isdir(os.path.join(ROOT, "docs")):
        pytest.skip("not a source checkout")
    for path in _files():
        if os.path.abspath(path) == os.path.abspath(__file__):
            continue
        with open(path, encoding="utf-8", errors="replace") as fh:
            yield os.path.relpath(path, ROOT), fh.read()


def _design_titles():
    with open(os.path.join(ROOT, "docs", "design.md"), encoding="utf-8") as fh:
        text = fh.read()
    headings = re.findall(r"^#+\s+(.+)$", text, flags=re.M)
    bold = re.findall(r"\*\*([^*]+?)\.?\*\*", text)
    return headings + bold


def test_cited_docs_exist():
    cited = {}
    for name, text in _texts():
        for path in re.findall(r"\bdocs/[\w./-]*\w", text):
            cited.setdefault(path, name)
    assert "docs/design.md" in cited
    missing = {p: where for p, where in cited.items() if not os.path.exists(os.path.join(ROOT, p))}
    assert not missing, f"cited but not in the repository: {missing}"


def test_no_citation_of_notes_outside_the_repository():
    for name, text in _texts():
        for gone in ("DESIGN.md", "SPEC_MODEL.md", "ALGORITHMS.md"):
            assert gone not in text, f"{name} cites {gone}, which is not in the repository (use docs/design.md)"


def test_quoted_sections_of_the_design_notes_exist():
    titles = _design_titles()
    quoted = []
    for name, text in _texts():
        for section in re.findall(r'docs/design\.md(?:\'s [\w ]+)?,?\s*\(?"([^"]+)"', text):
            quoted.append((name, section))
    assert quoted, "expected at least one section citation (target.hpp cites one)"
    for name, section in quoted:
        assert any(t.startswith(section) for t in titles), f"{name} cites section {section!r} of docs/design.md"
