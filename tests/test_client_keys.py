"""The outbox's client key: a service record or diary entry sent twice is stored once.

The phone keeps a record made without signal and sends it when the connection returns, perhaps
twice; the ``client_key`` it made is unique per author in the database. Tested at the service, over
HTTP (the outbox's own requests: multipart, with photos), and with two sends at the same moment.
"""

from __future__ import annotations

import contextlib
import io
import threading
import uuid

import pytest
import sqlalchemy as sa

from app.clock import local_today, utcnow
from app.extensions import db
from app.models import Activity, ActivityKind, ActivityPhoto, DiaryEntry
from app.services import activities as activity_service
from app.services import client_keys
from app.services import diary as diary_service
from app.services.activities import ActivityInput
from tests.factories import (
    activity_form_data,
    image_bytes,
    login,
    make_world,
    user_of,
)


def activities() -> list[Activity]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Activity).order_by(Activity.id)).unique())


def entries() -> list[DiaryEntry]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(DiaryEntry).order_by(DiaryEntry.id)).unique())


def activity_input(**kw: object) -> ActivityInput:
    values = {"kind": ActivityKind.VISIT, "started_at": utcnow(), "duration_minutes": 30, "station_id": None,
              "address": "龙山路12号", "note": "上门宣讲"}
    values.update(kw)
    return ActivityInput(**values)  # type: ignore[arg-type]


@pytest.fixture
def w(app):
    return make_world()


# --- the service ----------------------------------------------------------------------------------


def test_the_same_key_twice_records_one_activity_and_answers_with_it(w):
    key = str(uuid.uuid4())
    first = activity_service.record(w.member, activity_input(), [], user_of(w.member), utcnow(), client_key=key)
    db.session.commit()
    again = activity_service.record(w.member, activity_input(note="改过的文字"), [], user_of(w.member), utcnow(),
                                    client_key=key)
    db.session.commit()
    assert again.id == first.id
    [row] = activities()
    assert (row.client_key, row.note) == (key, "上门宣讲")  # the first send is the record


def test_another_members_same_key_is_their_own_record(w):
    key = str(uuid.uuid4())
    mine = activity_service.record(w.member, activity_input(), [], user_of(w.member), utcnow(), client_key=key)
    theirs = activity_service.record(w.fellow, activity_input(), [], user_of(w.fellow), utcnow(), client_key=key)
    db.session.commit()
    assert mine.id != theirs.id and len(activities()) == 2
    e1 = diary_service.create(w.member, w.r1.id, local_today(), "听说楼道灯坏了", local_today(), client_key=key)
    e2 = diary_service.create(w.fellow, w.r_fellow.id, local_today(), "孙奶奶想学用手机", local_today(), client_key=key)
    db.session.commit()
    assert e1.id != e2.id and len(entries()) == 2


def test_records_without_a_key_are_each_stored_as_before(w):
    for _ in range(2):
        activity_service.record(w.member, activity_input(), [], user_of(w.member), utcnow())
        diary_service.create(w.member, w.r1.id, local_today(), "同样的话", local_today())
    db.session.commit()
    assert len(activities()) == 2 and len(entries()) == 2
    assert {a.client_key for a in activities()} == {None}


def test_the_same_diary_key_twice_writes_one_entry(w):
    key = str(uuid.uuid4())
    first = diary_service.create(w.member, w.r1.id, local_today(), "听说楼道灯坏了", local_today(), client_key=key)
    db.session.commit()
    again = diary_service.create(w.member, w.r1.id, local_today(), "听说楼道灯坏了", local_today(), client_key=key)
    db.session.commit()
    assert again.id == first.id and len(entries()) == 1


def test_a_send_that_loses_the_race_reads_the_winners_row_inside_a_savepoint(w, monkeypatch):
    """Two sends both looked and found nothing; the first committed. The second's insert breaks the
    UNIQUE constraint: only its savepoint rolls back, and it answers with the first one's row."""
    key = str(uuid.uuid4())
    winner = diary_service.create(w.member, w.r1.id, local_today(), "先到的", local_today(), client_key=key)
    db.session.commit()
    real_scalar = db.session.scalar
    missed = []

    def first_look_misses(stmt, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not missed and "client_key" in str(stmt):
            missed.append(stmt)
            return None
        return real_scalar(stmt, *args, **kwargs)

    monkeypatch.setattr(db.session, "scalar", first_look_misses)
    loser = diary_service.create(w.member, w.r1.id, local_today(), "后到的", local_today(), client_key=key)
    monkeypatch.undo()
    db.session.commit()  # the outer transaction is intact
    assert missed and loser.id == winner.id
    assert [e.text for e in entries()] == ["先到的"]


def test_client_keys_are_uuids_in_one_form():
    key = uuid.uuid4()
    assert client_keys.normalize_key(str(key).upper()) == str(key)
    assert client_keys.normalize_key(f" {key} ") == str(key)
    for bad in ("", None, "x" * 36, "1234", "'; drop table activities; --"):
        assert client_keys.normalize_key(bad) is None


# --- over HTTP: what the outbox sends -------------------------------------------------------------


def test_the_outbox_sending_a_record_with_photos_twice_stores_it_once(client, w):
    login(client, user_of(w.member))
    key = str(uuid.uuid4())

    def send():  # type: ignore[no-untyped-def]
        data = activity_form_data(client_key=key, residents=[w.r1.id])
        data["photos"] = [(io.BytesIO(image_bytes()), "a.jpg"), (io.BytesIO(image_bytes(color="blue")), "b.jpg")]
        return client.post("/activities/new", data=data, content_type="multipart/form-data")

    first, second = send(), send()
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    [row] = activities()
    assert first.headers["Location"] == f"/activities/{row.id}" and row.client_key == key
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ActivityPhoto)) == 2


def test_the_outbox_sending_a_diary_entry_twice_stores_it_once(client, w):
    login(client, user_of(w.member))
    data = {"resident_id": w.r1.id, "entry_date": local_today().isoformat(), "text": "赵大爷说路灯不亮",
            "client_key": str(uuid.uuid4())}
    assert client.post("/diary/new", data=data).status_code == 303
    assert client.post("/diary/new", data=data).status_code == 303
    assert len(entries()) == 1


def test_the_forms_carry_an_empty_key_for_the_script_to_fill(client, w):
    login(client, user_of(w.member))
    for url in ("/activities/new", "/diary/new"):
        page = client.get(url).get_data(as_text=True)
        assert 'id="client_key" name="client_key" type="hidden" value=""' in page and "data-outbox=" in page


def test_without_a_key_the_forms_work_as_before(client, w):
    login(client, user_of(w.member))
    data = {"resident_id": w.r1.id, "entry_date": local_today().isoformat(), "text": "没有脚本的浏览器"}
    assert client.post("/diary/new", data=data).status_code == 303
    assert client.post("/diary/new", data=data).status_code == 303
    assert client.post("/activities/new", data=activity_form_data()).status_code == 303
    assert len(entries()) == 2 and len(activities()) == 1


@pytest.mark.parametrize("bad", ["not-a-uuid", "x" * 500, "1" * 36])
def test_a_forged_key_is_refused_with_a_message_and_nothing_is_saved(client, w, bad):
    login(client, user_of(w.member))
    response = client.post("/diary/new", data={"resident_id": w.r1.id, "entry_date": local_today().isoformat(),
                                               "text": "赵大爷说路灯不亮", "client_key": bad})
    assert response.status_code == 422 and "页面已过期" in response.get_data(as_text=True)
    assert "赵大爷说路灯不亮" in response.get_data(as_text=True)  # what was typed is kept
    response = client.post("/activities/new", data=activity_form_data(client_key=bad))
    assert response.status_code == 422 and "页面已过期" in response.get_data(as_text=True)
    assert entries() == [] and activities() == []


@pytest.mark.parametrize("who", ["district_admin", "station_admin", "resident", "nobody"])
def test_only_members_may_send_records(client, w, who):
    login(client, getattr(w.p, who))
    key = str(uuid.uuid4())
    assert client.post("/activities/new", data=activity_form_data(client_key=key)).status_code == 403
    assert client.post("/diary/new", data={"resident_id": w.r1.id, "entry_date": local_today().isoformat(),
                                           "text": "x", "client_key": key}).status_code == 403
    assert entries() == [] and activities() == []


def test_a_logged_out_send_is_sent_to_log_in_and_stores_nothing(client, w):
    response = client.post("/diary/new", data={"resident_id": w.r1.id, "entry_date": local_today().isoformat(),
                                               "text": "x", "client_key": str(uuid.uuid4())})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert entries() == []


# --- two sends at the same moment -----------------------------------------------------------------


def _at_once(app, send, n: int = 2) -> list[int]:  # type: ignore[no-untyped-def]
    """Run ``send(client)`` from ``n`` threads, each its own browser and database connection,
    released together; return their status codes."""
    clients = [app.test_client() for _ in range(n)]
    start = threading.Barrier(n)
    codes: list[int] = []
    errors: list[BaseException] = []

    def run(c):  # type: ignore[no-untyped-def]
        try:
            start.wait(timeout=10)
            codes.append(send(c).status_code)
        except BaseException as e:  # noqa: BLE001 — reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    return clients, threads, codes, errors  # type: ignore[return-value]


def _go(threads, codes, errors) -> list[int]:  # type: ignore[no-untyped-def]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return sorted(codes)


@pytest.fixture
def both_past_the_look_up(monkeypatch):
    """Hold each send after its look-up found nothing until the other has looked too, so the two
    inserts really race (PostgreSQL). SQLite lets one writer in at a time (BEGIN IMMEDIATE): there
    the second send waits for the first to commit, and the hold just times out."""
    gate = threading.Barrier(2)
    real_record, real_create = activity_service._record, diary_service._create

    def held(real):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            with contextlib.suppress(threading.BrokenBarrierError):
                gate.wait(timeout=1.5)
            return real(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(activity_service, "_record", held(real_record))
    monkeypatch.setattr(diary_service, "_create", held(real_create))


def test_two_concurrent_sends_of_one_activity_store_one_row(app, w, both_past_the_look_up):
    key = str(uuid.uuid4())
    member_user = user_of(w.member)
    db.session.commit()

    def send(c):  # type: ignore[no-untyped-def]
        data = activity_form_data(client_key=key)
        data["photos"] = [(io.BytesIO(image_bytes()), "a.jpg")]
        return c.post("/activities/new", data=data, content_type="multipart/form-data")

    clients, threads, codes, errors = _at_once(app, send)
    for c in clients:
        login(c, member_user)
    assert _go(threads, codes, errors) == [303, 303]
    [row] = activities()
    assert row.client_key == key


def test_two_concurrent_sends_of_one_diary_entry_store_one_row(app, w, both_past_the_look_up):
    key = str(uuid.uuid4())
    member_user = user_of(w.member)
    db.session.commit()
    data = {"resident_id": w.r1.id, "entry_date": local_today().isoformat(), "text": "同时发出的", "client_key": key}
    clients, threads, codes, errors = _at_once(app, lambda c: c.post("/diary/new", data=data))
    for c in clients:
        login(c, member_user)
    assert _go(threads, codes, errors) == [303, 303]
    assert [e.text for e in entries()] == ["同时发出的"]
