"""Responses that are not pages: stored photos, QR images, .xlsx ledgers and training PDFs.

Every view that sends one of these has checked the user may see it first.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from flask import Response, abort, make_response, send_file

from app.models import Photo, VoiceClip
from app.services import qr
from app.services.ledger import XLSX_MIMETYPE
from app.services.photos import photo_path
from app.services.voice import voice_path


def photo_response(photo: Photo, thumb: bool = False) -> Response:
    """A stored photo (JPEG, no metadata)."""
    response = send_file(photo_path(photo, thumb), mimetype="image/jpeg", max_age=0)
    # Never kept: a tablet at a station is shared, and a photo shows people's homes.
    response.headers["Cache-Control"] = "private, no-store"
    return response


def voice_response(clip: VoiceClip) -> Response:
    """A stored voice clip, as uploaded, with the type read from its content; byte ranges are
    answered (players seek with them)."""
    response = send_file(voice_path(clip), mimetype=clip.mime, max_age=0, conditional=True)
    # Never kept, like a photo: a resident's voice on a shared tablet's cache.
    response.headers["Cache-Control"] = "private, no-store"
    return response


def qr_response(url: str, fmt: str, ec: str, box_size: int = 12, download: str | None = None) -> Response:
    """The QR of ``url`` as ``png`` or ``svg`` (anything else: 404), never cached."""
    if fmt == "svg":
        response = make_response(qr.svg(url, ec=ec))
        response.mimetype = "image/svg+xml"
    elif fmt == "png":
        response = make_response(qr.png(url, ec=ec, box_size=box_size))
        response.mimetype = "image/png"
    else:
        abort(404)
    response.headers["Cache-Control"] = "private, no-store"
    if download:
        response.headers["Content-Disposition"] = f'attachment; filename="{download}.{fmt}"'
    return response


def xlsx_response(data: bytes, filename: str) -> Response:
    """A ledger workbook as a download, never cached (it holds personal data)."""
    response = send_file(BytesIO(data), mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=filename)
    response.headers["Cache-Control"] = "no-store"
    return response


def document_response(path: Path, filename: str) -> Response:
    """A stored PDF shown in the browser (inline), never sniffed as anything else, kept only in
    the user's own browser for an hour (private: it is for the members of a node)."""
    if not path.is_file():
        abort(404)
    # Not as an attachment: send_file writes "inline" with the name (RFC 6266, UTF-8 names too).
    response = send_file(path, mimetype="application/pdf", download_name=filename, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
