"""Every user-facing string has an English translation, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from tests.factories import login, make_member, make_tree

PO = Path(__file__).parent.parent / "app" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sdfg]")


def _catalog():  # type: ignore[no-untyped-def]
    with PO.open("rb") as f:
        return read_po(f)


def test_every_string_is_translated_into_english():
    missing = [m.id for m in _catalog() if m.id and not m.string]
    assert missing == []


def test_translations_keep_their_placeholders():
    for m in _catalog():
        if m.id and isinstance(m.id, str) and m.string:
            assert sorted(PLACEHOLDER.findall(m.string)) == sorted(PLACEHOLDER.findall(m.id)), m.id


def test_a_member_home_page_reads_in_english(client):
    tree = make_tree()
    member = make_member(tree.grid, name="李党员")
    client.post("/lang/en", data={"next": "/"})
    login(client, member.user)
    page = client.get("/").get_data(as_text=True)
    assert "Log out" in page
    assert not re.search(r"[\u4e00-\u9fff]{2,}", page.replace("李党员", "").replace("简体中文", "")
                         .replace("宜秀区", "").replace("大龙山镇", "").replace("龙山社区", "")
                         .replace("第一网格", "")), "Chinese left on the English home page"


def test_every_string_in_the_code_and_templates_is_in_the_catalogue(tmp_path):
    """What extraction finds (templates/_macros included) must be in the catalogue, not only
    what happens to be in it: a folder the extractor skipped once left the pager in Chinese."""
    import subprocess
    import sys

    pot = tmp_path / "messages.pot"
    root = PO.parents[3].parent
    exe = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(exe), "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext",
                    "--ignore-dirs", ".* __pycache__", "-o", str(pot), "."], check=True, cwd=root)
    with pot.open("rb") as f:
        extracted = {m.id for m in read_po(f) if m.id}
    known = {m.id for m in _catalog() if m.id and m.string}
    assert "上一页" in extracted  # the shared pager in templates/_macros/lists.html
    assert sorted(str(i) for i in extracted - known) == []
