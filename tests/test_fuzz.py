"""Property-based fuzzing (issue 12, hypothesis): every form, every ``<int:…>`` path parameter and
every query parameter, with what an attacker sends — ids past the database's integers (2^31,
2^63, negative), NUL bytes, bytes that are not UTF-8, very long text, fields given twice.

What must hold: never a 500; a refused request stores nothing (the whole database is compared);
a hostile id in a form field is the form again with a message (422), not an error page.

The forms are found the way a browser finds them: every page the world's users can open is read,
and each ``<form method="post">`` gives its action, its fields and their rendered values — the
fuzzer starts from that valid form and changes some of it. A POST rule no page links to is sent
the pool of every field name. The user is the first role the authorisation matrix lets in.

Examples per target: ``FUZZ_EXAMPLES`` (default 6; e.g. ``FUZZ_EXAMPLES=200 pytest
tests/test_fuzz.py`` for a long run). The count run is printed at the end (``-s``) and checked.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import MethodNotAllowed, NotFound

from tests import trust_world as tw
from tests.test_authz_matrix import MATRIX, REFUSAL_WRITES, REFUSED
from tests.trust_world import ROLES

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
# Roles tried first for a form: the narrowest that may use it.
ROLE_ORDER = ("member", "head", "station", "grid", "community", "township", "district", "resident", "anon")

HUGE = ["2147483648", "2147483647", "9223372036854775807", "9223372036854775808",
        "18446744073709551616", "99999999999999999999", "-1", "-2147483649", "-9223372036854775809",
        "0", "00000000001", "+1", "1e309", "NaN", "inf", "１２", "١٢", "0x10", " 7 ", "1.5"]
HOSTILE_TEXT = ["", " ", "\x00", "a\x00b", "\x00" * 8, "长" * 20000, "x" * 100_000, "%", "_", "%_\\",
                "' OR 1=1 --", "<script>alert(1)</script>", "\u202egnp.exe", "👨‍👩‍👧" * 50,
                "\r\n\r\n", "../../etc/passwd", "{{7*7}}", "=cmd|' /C calc'!A0", "\ufeff", "\ud7ff"]
INVALID_UTF8 = [b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xf0\x28\x8c\xbc", b"\xed\xa0\x80", b"%FF%FE"]


def hostile_values() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(HUGE),
        st.sampled_from(HOSTILE_TEXT),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    )


class _Forms(HTMLParser):
    """The POST forms of a page: action, and the fields with the values a browser would send."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._current: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        a = dict(attrs)
        if tag == "form":
            self._current = {"action": a.get("action") or "", "method": (a.get("method") or "get").lower(),
                             "fields": MultiDict(), "names": set()}
            self.forms.append(self._current)
        elif self._current is None:
            return
        elif tag == "input" and a.get("name"):
            name, kind = a["name"], (a.get("type") or "text").lower()
            self._current["names"].add(name)
            if kind in ("checkbox", "radio"):
                if "checked" in a or name not in self._current["fields"]:
                    self._current["fields"].setlist(name, [a.get("value") or "y"])
            elif kind not in ("file", "submit", "button"):
                self._current["fields"].setlist(name, [a.get("value") or ""])
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            self._current["names"].add(a["name"])
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if value and (self._select not in self._current["fields"] or "selected" in a):
                self._current["fields"].setlist(self._select, [value])
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._current["names"].add(a["name"])
            self._current["fields"].setlist(a["name"], ["正常的文字"])

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag == "form":
            self._current = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _allowed(key: str) -> tuple[str, str]:
    """The narrowest role the matrix lets use the rule, and the object (own, else same, else
    other) it may use it on: a mentor records guidance for the household they mentor, not their
    own. The district on its own object when nobody may."""
    row = MATRIX.get(key, "").split()
    if len(row) != len(ROLES):
        return "district", "own"
    for role in ROLE_ORDER:
        cells = row[ROLES.index(role)].split("/")
        for obj, status in zip(tw.OBJECTS, cells * len(tw.OBJECTS), strict=False):
            if status not in REFUSED or status == "422":
                return role, obj
    return "district", "own"


_CRAWLED: list[tuple] = []


class Harness:
    """The world, a session per role, the forms found on its pages, and the checks."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.world = tw.build()
        self.clients = tw.Clients(app, self.world)
        self.snap = tw.snapshot()
        self.base = tw.fingerprint()
        self.writes = tw.Writes()
        self.adapter = app.url_map.bind("localhost")
        self.ran = 0
        self.forms: dict[str, list[tuple[str, str, MultiDict]]] = {}  # endpoint → (role, url, fields)
        self.query_names: set[str] = {"page", "q", "node", "member", "resident", "station", "status",
                                      "state", "kind", "next", "need", "fellows", "residents", "grid",
                                      "month", "from", "to", "find", "uncovered", "v", "thumb", "by"}
        self.field_names: set[str] = set()

    def crawl(self) -> None:
        """Read every page each role may open (its own objects) and note the forms on it (once a
        run: the world's ids are the same in every test)."""
        if _CRAWLED:
            self.forms, self.query_names, self.field_names = _CRAWLED[0]
            return
        self._crawl()
        _CRAWLED.append((self.forms, self.query_names, self.field_names))

    def _crawl(self) -> None:
        """Each page a role may open, on its own object and on another's in the same node (a
        form may be on one only: a mentor's on the household they mentor)."""
        for endpoint, method, rule in tw.routes(self.app):
            if method != "GET":
                continue
            row = MATRIX.get(f"{endpoint} GET", "").split()
            for role in ROLES:
                cells = row[ROLES.index(role)].split("/") if len(row) == len(ROLES) else []
                for obj, status in zip(tw.OBJECTS[:2], cells, strict=False):
                    if status != "200":
                        continue
                    url = tw.fill(self.world, rule, obj, role)
                    response = self.clients.for_role(role).get(url)
                    if response.mimetype == "text/html":
                        self._note_forms(role, url, response.get_data(as_text=True))
                    response.close()
        self.reset()

    def _note_forms(self, role: str, page: str, html: str) -> None:
        parser = _Forms()
        parser.feed(html)
        for form in parser.forms:
            action = form["action"] or page
            path = urlsplit(action).path
            if form["method"] == "get":
                self.query_names |= form["names"]
                continue
            self.field_names |= form["names"]
            try:
                endpoint, _args = self.adapter.match(path, method="POST")
            except (NotFound, MethodNotAllowed):
                continue
            known = self.forms.setdefault(endpoint, [])
            if all(r != role for r, _u, _f in known):
                known.append((role, action, form["fields"]))

    def reset(self) -> None:
        if self.writes.seen:
            tw.restore(self.snap)
        self.writes.reset()

    def send(self, endpoint: str, role: str, method: str, url: str, **kw: object):  # type: ignore[no-untyped-def]
        """One request; checks it, puts the world back, and returns the response's status."""
        self.writes.reset()
        response = self.clients.for_role(role).open(url, method=method, **kw)
        self.ran += 1
        status = response.status_code
        body = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
        response.close()
        assert status < 500, f"{method} {url} as {role}: {status}"
        refused = str(status) in REFUSED | {"400", "413"} and (endpoint, method) not in REFUSAL_WRITES
        if method == "POST" and refused and self.writes.seen:
            assert tw.fingerprint() == self.base, (
                f"{method} {url} as {role} was refused ({status}) but stored: {self.writes.seen}")
        self.reset()
        return status, body


@pytest.fixture
def harness(app):  # type: ignore[no-untyped-def]
    h = Harness(app)
    yield h
    h.writes.close()
    print(f"\nfuzz: {h.ran} requests")


def _body(fields: MultiDict, raw: list[tuple[str, bytes]]) -> bytes:
    """An urlencoded body, with some values as raw bytes (not UTF-8, not even percent-encoded)."""
    parts = [f"{quote(k)}={quote(v)}".encode() for k, v in fields.items(multi=True)]
    parts += [quote(k).encode() + b"=" + v for k, v in raw]
    return b"&".join(parts)


def _fuzz_form(h: Harness, endpoint: str, role: str, url: str, base: MultiDict, names: list[str]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(
        changes=st.lists(st.tuples(st.sampled_from(names), hostile_values()), min_size=1, max_size=4),
        duplicate=st.booleans(),
        raw=st.lists(st.tuples(st.sampled_from(names), st.sampled_from(INVALID_UTF8)), max_size=2),
    )
    def run(changes, duplicate, raw):  # type: ignore[no-untyped-def]
        fields = MultiDict(base)
        for name, value in changes:
            if duplicate:
                fields.add(name, value)
            else:
                fields.setlist(name, [value])
        status, body = h.send(endpoint, role, "POST", url, data=_body(fields, raw),
                              content_type="application/x-www-form-urlencoded")
        nul = any("\x00" in v for _k, v in fields.items(multi=True))
        if status == 400 and not nul:
            # Only a NUL byte (refused whole) or a forged token answers 400: a hostile value in a
            # field is the form again with a message.
            assert "超出范围" not in body, f"POST {url} as {role} with {changes}: a 400 page, not the form"

    run()


def _form_targets(h: Harness) -> list[tuple[str, str, str, MultiDict, list[str]]]:
    targets = []
    for endpoint, method, rule in tw.routes(h.app):
        if method != "POST":
            continue
        found = h.forms.get(endpoint)
        role, obj = _allowed(f"{endpoint} POST")
        if found:
            chosen = next(((r, u, f) for r, u, f in found if r == role), found[0])
            role, url, fields = chosen
            names = sorted(set(fields) | {n for n in h.field_names if n in fields or n == "csrf_token"})
        else:
            url, fields = tw.fill(h.world, rule, obj, role), MultiDict()
            names = sorted(h.field_names)
        targets.append((endpoint, role, url, fields, names or ["x"]))
    return targets


def test_every_form_survives_hostile_values(app, harness):
    harness.crawl()
    targets = _form_targets(harness)
    failures = []
    for endpoint, role, url, fields, names in targets:
        try:
            _fuzz_form(harness, endpoint, role, url, fields, names)
        except Exception as e:  # noqa: BLE001 — every endpoint's failure is reported
            failures.append(f"{endpoint}: {e}")
    assert len(targets) >= 60 and harness.ran >= len(targets) * min(EXAMPLES, 2)
    assert not failures, "\n".join(failures)


def _fuzz_path(h: Harness, rule, method: str, role: str, obj: str, params: list[str]) -> None:  # type: ignore[no-untyped-def]
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(param=st.sampled_from(params), value=st.one_of(
        st.sampled_from(HUGE), st.integers(min_value=-(2**70), max_value=2**70).map(str)))
    def run(param, value):  # type: ignore[no-untyped-def]
        h.send(rule.endpoint, role, method, tw.fill(h.world, rule, obj, role, ids={param: quote(value)}))

    run()


def _fuzz_query(h: Harness, endpoint: str, url: str, role: str, names: list[str]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(pairs=st.lists(st.tuples(st.sampled_from(names), hostile_values()), min_size=1, max_size=5),
           raw=st.lists(st.tuples(st.sampled_from(names), st.sampled_from(INVALID_UTF8)), max_size=1))
    def run(pairs, raw):  # type: ignore[no-untyped-def]
        query = "&".join([f"{quote(k)}={quote(v)}" for k, v in pairs]
                         + [f"{quote(k)}=" + "".join(f"%{b:02X}" for b in v) for k, v in raw])
        h.send(endpoint, role, "GET", f"{url}?{query}")

    run()


def test_every_int_path_parameter_survives_hostile_ids(app, harness):
    failures = []
    for endpoint, method, rule in tw.routes(app):
        params = tw.int_params(rule)
        if params:
            role, obj = _allowed(f"{endpoint} {method}")
            try:
                _fuzz_path(harness, rule, method, role, obj, params)
            except Exception as e:  # noqa: BLE001 — every endpoint's failure is reported
                failures.append(f"{endpoint}: {e}")
    assert not failures, "\n".join(failures)


def test_every_query_parameter_survives_hostile_values(app, harness):
    harness.crawl()
    names = sorted(harness.query_names)
    failures = []
    for endpoint, method, rule in tw.routes(app):
        if method == "GET":
            role, obj = _allowed(f"{endpoint} GET")
            try:
                _fuzz_query(harness, endpoint, tw.fill(harness.world, rule, obj, role), role, names)
            except Exception as e:  # noqa: BLE001 — every endpoint's failure is reported
                failures.append(f"{endpoint}: {e}")
    assert not failures, "\n".join(failures)


def test_a_huge_id_in_a_form_field_is_the_form_again_with_a_message(client):
    """Known before (issue 12, item 7): ids in form fields past the database's integer."""
    from tests.factories import login, make_world, user_of

    w = make_world()
    login(client, user_of(w.member))
    for field in ("fellows", "residents"):
        response = client.post("/activities/new", data={
            "kind": "visit", "started_at": "2026-03-01T09:00", "duration_minutes": "30",
            "address": "龙山路1号", "note": "走访", field: "9223372036854775808"})
        body = response.get_data(as_text=True)
        assert response.status_code == 422, (field, response.status_code)
        assert "走访" in body and re.search(r"编号|不存在|无效", body), field


def test_huge_ids_in_the_remaining_id_fields_are_refused_next_to_the_field(client):
    from tests.factories import login, make_personas

    p = make_personas()
    login(client, p.station_admin)
    response = client.post(f"/stations/{p.station.id}/manual", data={"member_id": "2147483648"})
    assert response.status_code == 422 and "请选择要补签的党员" in response.get_data(as_text=True)
    anon = client.application.test_client()
    response = anon.post("/needs/new", data={"community": "99999999999999999999", "category": "repair",
                                             "text": "路灯坏了", "consent": "y"})
    assert response.status_code == 422 and "路灯坏了" in response.get_data(as_text=True)


def test_control_characters_in_an_export_s_filter_or_data_are_dropped_not_a_500(client):
    """Found by the fuzzer: a query-string filter holding ESC made the audit log's export fail."""
    import io

    from openpyxl import load_workbook

    from app.services.ledger import safe_cell
    from tests.factories import login, make_personas

    p = make_personas()
    login(client, p.district_admin)
    response = client.get("/audit/export.xlsx", query_string={"action": "\x1b", "q": "a\x07b"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert "\x1b" not in str(sheet.cell(2, 2).value)
    assert safe_cell("=1\x1b") == "'=1" and safe_cell("赵\x00大爷") == "赵大爷"
