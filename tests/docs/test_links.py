"""README.md and docs/: every relative link and image resolves inside the
repository (and every #anchor to a heading of its page), and the README
stays a short page that links nowhere outside the repository."""
import os
import pathlib
import re

SOURCE = pathlib.Path(os.environ.get("HERALD_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2])).resolve()
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")


def pages():
    return [SOURCE / "README.md"] + sorted((SOURCE / "docs").rglob("*.md"))


def anchors(page):
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    out, seen = set(), {}
    in_code = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = None if in_code else re.match(r"#{1,6} (.*)", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def broken(page, text=None):
    """The links of one page that do not resolve, as (target, why)."""
    text = page.read_text() if text is None else text
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    found = []
    for m in LINK.finditer(text):
        target = m.group(1) or m.group(2)
        if re.match(r"[a-z]+:", target):
            found.append((target, "links outside the repository")) if page.name == "README.md" else None
            continue
        path, _, frag = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if SOURCE not in dest.parents and dest != SOURCE:
            found.append((target, "leaves the repository"))
        elif not dest.exists():
            found.append((target, "no such file"))
        elif frag and dest.suffix == ".md" and frag not in anchors(dest):
            found.append((target, "no such heading"))
    return found


def test_every_relative_link_resolves():
    assert len(pages()) > 10
    problems = {str(p.relative_to(SOURCE)): broken(p) for p in pages()}
    assert not {k: v for k, v in problems.items() if v}


def test_every_docs_page_is_reachable_from_the_readme():
    reached, todo = set(), [SOURCE / "README.md"]
    while todo:
        page = todo.pop()
        if page in reached:
            continue
        reached.add(page)
        for m in LINK.finditer(page.read_text()):
            target = (m.group(1) or "").partition("#")[0]
            if target.endswith(".md") and not re.match(r"[a-z]+:", target):
                todo.append((page.parent / target).resolve())
    assert set(pages()) - reached == set()


def test_the_readme_is_short_and_stays_inside_the_repository():
    text = (SOURCE / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert "../" not in text and "DESIGN.md" not in text


def test_the_check_can_fail():
    readme = SOURCE / "README.md"
    assert broken(readme, "[x](docs/nope.md)") == [("docs/nope.md", "no such file")]
    assert broken(readme, "[x](../shared/DESIGN.md)")
    assert broken(readme, "[x](https://example.com)")
    assert broken(readme, "[x](docs/operations.md#no-such-heading)") == [
        ("docs/operations.md#no-such-heading", "no such heading")]
    assert broken(readme, '<img src="docs/images/none.png">')
