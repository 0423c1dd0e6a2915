"""What the needs views share: the need guard, uploads, running a form's step."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, TypeVar

from flask import abort, request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.wrappers import Response

from app import policy
from app.authz import get_or_404
from app.models import Need, Photo, VoiceClip
from app.responses import photo_response, voice_response
from app.services import needs
from app.services.photos import PhotoError
from app.services.voice import VoiceError

T = TypeVar("T")


def need_or_404(need_id: int) -> Need:
    """A need the user may read, else 404 (a hidden one: admins in scope only)."""
    return get_or_404(Need, need_id, policy.can_view_need)


def upload_of(field: FileField) -> IO[bytes] | None:
    """The stream of the file chosen in ``field``, or None when none was."""
    upload = field.data
    return upload.stream if upload and getattr(upload, "filename", "") else None


def validated(form: FlaskForm, action: Callable[[], T], invalid: str = "") -> Callable[[], T]:
    """``action`` for ``run_step``, refused with ``invalid`` when the form does not validate; a bad
    photo or recording is also shown under the form's photo or voice field."""

    def run() -> T:
        if not form.validate_on_submit():
            raise needs.NeedError(invalid)
        try:
            return action()
        except PhotoError as e:
            form.photo.errors = [str(e)]
            raise
        except VoiceError as e:
            form.voice.errors = [str(e)]
            raise

    return run


def need_photo(need: Need, photo_id: int, public: bool) -> Response:
    """A photo of ``need`` (for ``public``: not those of internal notes), else 404."""
    if photo_id not in needs.need_photo_ids(need, public=public):
        abort(404)
    return photo_response(get_or_404(Photo, photo_id), thumb=request.args.get("thumb") == "1")


def need_voice(need: Need, clip_id: int, public: bool) -> Response:
    """A voice clip of ``need`` (for ``public``: not those of internal notes), else 404."""
    if clip_id not in needs.need_voice_ids(need, public=public):
        abort(404)
    return voice_response(get_or_404(VoiceClip, clip_id))
