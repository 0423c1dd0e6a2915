"""Upload fuzzing (issue 12): every upload endpoint is sent random bytes, truncated files,
polyglots and decompression bombs — never a 500, nothing stored when refused (the database and
the upload folders compared) — and the worst files are processed in a fresh interpreter whose
peak memory is bounded.

``UPLOADS`` is the list of upload endpoints: an area that takes a new kind of file adds its
endpoint there (and, for a new kind, its valid samples to ``SAMPLES`` and its worst files to
``WORST``).
"""

from __future__ import annotations

import gc
import io
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import hostile_files as hf
from tests import trust_world as tw
from tests.conftest import TEST_DATABASE_URL

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))


@dataclass
class Upload:
    """One endpoint that takes a file: who sends it, the file field, the other fields it needs."""

    endpoint: str
    role: str
    field: str
    kind: str  # "photo", "import" (… "audio")
    form: Callable[[tw.TrustWorld], dict] = field(default=lambda w: {})
    obj: str = "own"


def _activity(w: tw.TrustWorld) -> dict:
    from tests.factories import activity_form_data

    return activity_form_data()


UPLOADS: list[Upload] = [
    Upload("activities.new", "member", "photos", "photo", _activity),
    Upload("activities.edit", "member", "photos", "photo", _activity),
    Upload("needs.card", "anon", "photo", "photo",
           lambda w: {"category": "repair", "text": "灯坏了", "contact_phone": "13912345678", "consent": "y"}),
    Upload("needs.plaque", "anon", "photo", "photo",
           lambda w: {"category": "repair", "text": "灯坏了", "contact_phone": "13912345678", "consent": "y"}),
    Upload("needs.new", "anon", "photo", "photo",
           lambda w: {"category": "repair", "text": "灯坏了", "contact_phone": "13912345678", "consent": "y",
                      "community": str(w.extra["world"].p.tree.community.id), "address": "龙山路1号"}),
    # The need page's forms carry prefixes: p- (progress), r- (resolve).
    Upload("needs.progress", "member", "p-photo", "photo", lambda w: {"p-text": "已联系物业"}),
    Upload("needs.resolve", "member", "r-photo", "photo", lambda w: {"r-outcome": "solved", "r-note": "已修好"}),
    Upload("structure.import_roster", "community", "file", "import", lambda w: {"kind": "members"}),
    Upload("structure.import_roster", "community", "file", "import", lambda w: {"kind": "residents"}),
    # Voice messages: residents' (a need by card, plaque or the public form; text may be empty)
    # and a member's reply on a progress step.
    Upload("needs.card", "anon", "voice", "audio",
           lambda w: {"category": "repair", "text": "", "contact_phone": "13912345678", "consent": "y"}),
    Upload("needs.plaque", "anon", "voice", "audio",
           lambda w: {"category": "repair", "text": "", "contact_phone": "13912345678", "consent": "y"}),
    Upload("needs.new", "anon", "voice", "audio",
           lambda w: {"category": "repair", "text": "", "contact_phone": "13912345678", "consent": "y",
                      "community": str(w.extra["world"].p.tree.community.id), "address": "龙山路1号"}),
    Upload("needs.progress", "member", "p-voice", "audio", lambda w: {"p-text": ""}),
]

SAMPLES: dict[str, Callable[[], list[bytes]]] = {
    "photo": lambda: [hf.jpeg(), hf.png(), hf.webp(), hf.png(mode="RGBA")],
    "import": lambda: [hf.xlsx()],
    "audio": hf.audio_samples,
}
POLYGLOTS: dict[str, Callable[[], list[bytes]]] = {"audio": hf.audio_polyglots}
BOMBS: dict[str, Callable[[], dict[str, bytes]]] = {"audio": hf.audio_bombs}
FILENAMES = ["photo.jpg", "名册.xlsx", "a.png", "x", "../../../etc/passwd", "evil.html", "a" * 300 + ".jpg",
             "voice.amr"]


def hostile_files(kind: str) -> st.SearchStrategy[bytes]:
    samples = SAMPLES.get(kind, lambda: [b""])()
    truncated = st.tuples(st.sampled_from(samples), st.floats(0, 1)).map(lambda t: t[0][: int(len(t[0]) * t[1])])
    return st.one_of(
        st.binary(max_size=2048),
        truncated,
        st.sampled_from(POLYGLOTS.get(kind, hf.polyglots)()),
        st.sampled_from(list(BOMBS.get(kind, hf.bombs)().values())),
        st.sampled_from(samples),
    )


def _files_in(path: Path) -> set[Path]:
    return set(path.rglob("*")) if path.exists() else set()


def _fuzz_upload(upload: Upload, url: str, world, clients, writes, snap, base, folders, ran) -> None:  # type: ignore[no-untyped-def]
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(data=hostile_files(upload.kind), name=st.sampled_from(FILENAMES), twice=st.booleans())
    def run(data, name, twice):  # type: ignore[no-untyped-def]
        before = {f: _files_in(f) for f in folders}
        files = [(io.BytesIO(data), name)] * (2 if twice else 1)
        writes.reset()
        response = clients.for_role(upload.role).post(
            url, data={**upload.form(world), upload.field: files}, content_type="multipart/form-data")
        ran.append(1)
        status = response.status_code
        response.close()
        if len(data) > 500 * 1024:  # kept in a temporary file: let it go here, under this test's filter
            del response
            gc.collect()
        assert status < 500, (upload.endpoint, name, len(data), status)
        if status >= 400:
            if writes.seen:
                assert tw.fingerprint() == base, (upload.endpoint, status, writes.seen)
            assert all(_files_in(f) == before[f] for f in folders), (upload.endpoint, status, "files left")
        if writes.seen:
            tw.restore(snap)

    run()


def test_every_upload_endpoint_survives_hostile_files(app):
    world = tw.build()
    clients = tw.Clients(app, world)
    snap = tw.snapshot()
    base = tw.fingerprint()
    writes = tw.Writes()
    folders = [Path(app.config["UPLOAD_DIR"]), Path(app.instance_path) / "imports"]
    ran = []
    rules = {r.endpoint: r for r in app.url_map.iter_rules()}
    failures = []
    for upload in UPLOADS:
        url = tw.fill(world, rules[upload.endpoint], upload.obj, upload.role)
        try:
            _fuzz_upload(upload, url, world, clients, writes, snap, base, folders, ran)
        except Exception as e:  # noqa: BLE001 — every endpoint's failure is reported
            failures.append(f"{upload.endpoint} ({upload.kind}): {e}")
    writes.close()
    print(f"\nupload fuzz: {len(ran)} uploads")
    assert len(ran) >= len(UPLOADS) * min(EXAMPLES, 2)
    assert not failures, "\n".join(failures)


# --- memory: the worst files, each in a fresh interpreter ------------------------------------

# (what, how it is processed, the file).
WORST: list[tuple[str, str, Callable[[], bytes]]] = [
    *[(name, "photo", (lambda data=data: data)) for name, data in hf.bombs().items()
      if not name.startswith(("xlsx", "zip"))],
    ("jpeg 8000×6000 (48 MP phone photo)", "photo", lambda: hf.jpeg((8000, 6000))),
    *[(name, "audio", (lambda data=data: data)) for name, data in hf.audio_bombs().items()],
    *[(name, "import", (lambda data=data: data)) for name, data in hf.bombs().items()
      if name.startswith(("xlsx", "zip"))],
]
# How far a worker's peak memory may rise for one file (MB).
BOUND_MB = {"photo": 150, "import": 150, "audio": 50}

_RUNNER = r"""
import io, re, sys
def kb(field):
    return int(re.search(field + r':\s+(\d+)', open('/proc/self/status').read()).group(1))
kind, instance, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
from app import create_app
from app.services import importer, photos, voice
from app.services.errors import Refused
app = create_app({'TESTING': True, 'SECRET_KEY': 'x', 'SQLALCHEMY_DATABASE_URI': 'sqlite://',
                  'INSTANCE_PATH': instance, 'ASSETS_DIR': instance})
with app.test_request_context():
    before = kb('VmRSS')
    for path in paths:
        data = open(path, 'rb').read()
        try:
            if kind == 'photo':
                photos.process(io.BytesIO(data))
            elif kind == 'audio':
                voice.process(io.BytesIO(data))
            else:
                importer.parse('members', data)
            outcome = 'accepted'
        except Refused as e:
            outcome = 'refused: ' + str(e)
        del data
        print(outcome.replace('\n', ' '))
        print((kb('VmHWM') - before) / 1024)
"""
# Recordings are read whole but never decoded (at most 2 MB): they share one interpreter, and
# each file's figure is the peak so far — an upper bound of its own.
SHARED = {"audio"}


def _peaks(kind: str, files: list[bytes], tmp_path: Path) -> list[tuple[str, float]]:
    """(outcome, growth of the peak in MB) per file, processed in a fresh interpreter."""
    paths = []
    for i, data in enumerate(files):
        paths.append(tmp_path / f"upload-{i}.bin")
        paths[-1].write_bytes(data)
    out = subprocess.run([sys.executable, "-c", _RUNNER, kind, str(tmp_path), *map(str, paths)],
                         capture_output=True, text=True, check=True, cwd=ROOT, timeout=120)
    lines = out.stdout.strip().splitlines()[-2 * len(files):]
    return [(lines[i], float(lines[i + 1])) for i in range(0, len(lines), 2)]


@pytest.mark.skipif(TEST_DATABASE_URL.startswith("postgresql"),
                    reason="no database involved: measured once, in the SQLite pass")
def test_the_worst_uploads_stay_within_a_worker_s_memory(tmp_path):
    peaks = []
    for kind in SHARED:
        named = [(n, b) for n, k, b in WORST if k == kind]
        for (name, _b), (outcome, growth) in zip(named, _peaks(kind, [b() for _n, b in named], tmp_path),
                                                 strict=True):
            peaks.append((growth, name, outcome[:60]))
    for name, kind, build in WORST:
        if kind not in SHARED:
            [(outcome, growth)] = _peaks(kind, [build()], tmp_path)
            peaks.append((growth, name, outcome[:60]))
    report = "\n".join(f"{g:7.1f} MB  {n}: {o}" for g, n, o in sorted(peaks, reverse=True))
    print("\npeak memory per file:\n" + report)
    assert len(peaks) == len(WORST)
    for growth, name, _outcome in peaks:
        kind = next(k for n, k, _b in WORST if n == name)
        assert growth < BOUND_MB[kind], report
    accepted = {n for _g, n, o in peaks if o == "accepted"}
    assert "jpeg 8000×6000 (48 MP phone photo)" in accepted  # a real phone photo still goes in
    assert not any(n.startswith(("xlsx", "zip")) for n in accepted)  # every roster bomb refused
    assert not any(k == "audio" and n in accepted for n, k, _b in WORST)  # every lying recording refused


def test_moving_an_activity_off_its_station_or_onto_one_is_an_edit_not_a_500(client):
    """Found by the upload fuzzer: the CHECK that ties verification to a station failed at the
    flush before the verification state was set."""
    from app.extensions import db
    from app.models import Activity, VerifyState
    from tests.factories import activity_form_data, login, make_activity, make_world, user_of

    w = make_world()
    at_station = make_activity(w.member, station=w.p.station)
    elsewhere = make_activity(w.member)
    login(client, user_of(w.member))
    off = client.post(f"/activities/{at_station.id}/edit", data=activity_form_data(station_id=""))
    onto = client.post(f"/activities/{elsewhere.id}/edit",
                       data=activity_form_data(station_id=str(w.p.station.id), address=""))
    assert off.status_code == 303 and onto.status_code == 303
    db.session.expire_all()
    moved_off, moved_on = db.session.get(Activity, at_station.id), db.session.get(Activity, elsewhere.id)
    assert moved_off.station_id is None and moved_off.verify_state is VerifyState.NONE
    assert moved_on.station_id == w.p.station.id and moved_on.verify_state is VerifyState.PENDING
