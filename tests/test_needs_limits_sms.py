"""Rate limits on the public form and tracking; texts to residents through a fake SMS gateway."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from app.extensions import db
from app.models import NeedOutcome
from app.services import entry_tokens, needs
from app.sms import HttpSmsNotifier, LoggingNotifier, get_notifier
from tests.factories import login, make_need, make_need_world

GOOD = {"category": "repair", "text": "楼道灯坏了", "consent": "y"}


class FakeGateway:
    """An SMS gateway on 127.0.0.1 that records what it was sent (or answers 500)."""

    def __init__(self, status: int = 200) -> None:
        self.received: list[dict] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers["Content-Length"])
                gateway.received.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway():
    with FakeGateway() as g:
        yield g


@pytest.fixture
def app_config(request):
    config = {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
              "NEEDS_LIMIT_PER_IP": "4 per hour", "NEEDS_LIMIT_PER_PHONE": "2 per day",
              "TRACK_LIMIT_PER_IP": "3 per 10 minutes"}
    if "gateway" in request.fixturenames:
        config["SMS_GATEWAY_URL"] = request.getfixturevalue("gateway").url
    return config


def test_resident_gets_texts_when_accepted_and_resolved(client, gateway):
    w = make_need_world()
    need = make_need(w.household)
    assert isinstance(get_notifier(), HttpSmsNotifier)
    login(client, w.member.user)
    assert client.post(f"/needs/{need.id}/accept").status_code == 303
    client.post(f"/needs/{need.id}/resolve", data={"r-outcome": "solved", "r-note": "已修好"})
    assert [m["phone"] for m in gateway.received] == ["13911112222", "13911112222"]
    assert "已由李党员接单" in gateway.received[0]["text"] and need.code in gateway.received[0]["text"]
    assert "已办结" in gateway.received[1]["text"]


def test_a_failing_gateway_never_breaks_the_request(client):
    with FakeGateway(status=500) as broken:
        client.application.config["SMS_GATEWAY_URL"] = broken.url
        w = make_need_world()
        need = make_need(w.household)
        login(client, w.member.user)
        assert client.post(f"/needs/{need.id}/accept").status_code == 303
        assert len(broken.received) == 1
    # And a gateway that is not there at all.
    HttpSmsNotifier("http://127.0.0.1:9/none", timeout=0.5).send_sms("13911112222", "x")


def test_no_text_goes_out_for_a_refused_change(client, gateway):
    w = make_need_world()
    need = make_need(w.household)
    needs.accept(need, w.member.user)
    needs.resolve(need, w.member.user, NeedOutcome.SOLVED, "好了")
    db.session.commit()  # sends the two texts of the setup
    gateway.received.clear()
    login(client, w.member.user)
    assert client.post(f"/needs/{need.id}/accept").status_code == 422
    assert gateway.received == []


def test_logging_notifier_without_a_gateway(app):
    app.config.pop("SMS_GATEWAY_URL", None)
    assert isinstance(get_notifier(), LoggingNotifier)


def test_public_form_is_limited_per_phone(client):
    w = make_need_world()
    token = entry_tokens.current_token(w.household).token
    db.session.commit()
    data = {**GOOD, "contact_phone": "13700001111", "confirm_duplicate": "1"}
    assert client.post(f"/c/{token}", data=data).status_code == 303
    assert client.post(f"/c/{token}", data=data).status_code == 303
    assert client.post(f"/c/{token}", data=data).status_code == 429
    # Another phone from the same address still gets through (the per-IP limit is 4).
    assert client.post(f"/c/{token}", data={**data, "contact_phone": "13700002222"}).status_code == 303


def test_public_form_is_limited_per_address_across_entry_points(client):
    w = make_need_world()
    token = entry_tokens.current_token(w.household).token
    db.session.commit()
    for i in range(4):
        client.post(f"/c/{token}", data={**GOOD, "text": "", "contact_phone": f"1370000{i:04d}"})
    r = client.post("/needs/new", data={**GOOD, "community": str(w.p.tree.community.id), "address": "x",
                                        "contact_phone": "13799990000"})
    assert r.status_code == 429 and "尝试次数过多" in r.get_data(as_text=True)


def test_tracking_is_rate_limited(client):
    make_need_world()
    for _ in range(3):
        assert client.post("/track", data={"code": "ABCDEFGH", "phone": "13700001111"}).status_code == 422
    assert client.post("/track", data={"code": "ABCDEFGH", "phone": "13700001111"}).status_code == 429
