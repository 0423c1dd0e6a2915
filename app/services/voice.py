"""Voice messages (语音留言) from phones: accepted by their content, never by name or declared type.

What phones and their browsers record: WebM/Opus (Chrome, Android's WebView, WeChat on Android),
Ogg/Opus or Vorbis (Firefox), MP4/M4A with AAC (Safari, iOS, Android recorders), AMR (old Android
recorders), MP3 and WAV. The file is read by mutagen (Ogg, MP4, MP3, WAV, AAC); mutagen has no
reader for Matroska/WebM or AMR, so this module walks those two itself — only as far as needed to
find the tracks and the last timestamp. The length comes from the file; a file that ends before its
own headers say it should (cut off in transfer) is refused. The bytes are stored as uploaded (no
decoder runs on the server), by content hash, and served through a checked route.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models import VOICE_MAX_MS, VoiceClip
from app.services import stored_files
from app.services.errors import Refused

if TYPE_CHECKING:  # mutagen is imported by the functions that read a recording (issue 14)
    from mutagen.mp4 import Atoms
from app.settings import setting

MAX_BYTES = 2 * 1024 * 1024
MIN_MS = 500

NOT_AUDIO = _l("无法识别这个文件：请录一段语音，或上传手机录的音频（m4a、mp3、amr、ogg、webm）。")
EMPTY = _l("录音是空的，请重新录一段。")
TOO_BIG = _l("录音不能超过 2 MB，请录短一些（不超过 60 秒）。")
TOO_LONG = _l("录音不能超过 60 秒，请说得简短一些再录一次。")
TOO_SHORT = _l("录音太短，请说完再停止。")
BROKEN = _l("录音文件不完整或已损坏，请重新录一段。")
VIDEO = _l("这是视频文件，请只录声音。")


class VoiceError(Refused):
    """A file that is not an acceptable voice message; ``str()`` is the message for the user."""


@dataclass(frozen=True)
class ProcessedVoice:
    data: bytes
    sha256: str
    mime: str
    duration_ms: int


def process(stream: IO[bytes]) -> ProcessedVoice:
    """Read and check one uploaded recording, or raise VoiceError. Pure: nothing is stored."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise VoiceError(str(TOO_BIG))
    if not data:
        raise VoiceError(str(EMPTY))
    try:
        mime, seconds = _identify(data)
    except VoiceError:
        raise
    except Exception as e:  # noqa: BLE001 — boxes or elements that contradict each other: a bad file
        raise VoiceError(str(BROKEN)) from e
    duration_ms = round(seconds * 1000)
    if duration_ms > VOICE_MAX_MS:
        raise VoiceError(str(TOO_LONG))
    if duration_ms < MIN_MS:
        raise VoiceError(str(TOO_SHORT))
    return ProcessedVoice(data=data, sha256=hashlib.sha256(data).hexdigest(), mime=mime, duration_ms=duration_ms)


def _identify(data: bytes) -> tuple[str, float]:
    """(MIME type, length in seconds) read from the bytes, or VoiceError."""
    import mutagen
    from mutagen.mp4 import MP4
    from mutagen.ogg import OggFileType

    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm", _webm_seconds(data)
    if data.startswith(b"#!AMR"):
        return "audio/amr", _amr_seconds(data)
    try:
        # No file name: mutagen would score ".mp3" in a name; only the content counts here.
        audio = mutagen.File(io.BytesIO(data))
    except Exception as e:  # noqa: BLE001 — any failure to read the headers means "not audio"
        raise VoiceError(str(NOT_AUDIO)) from e
    kind = type(audio).__name__ if audio is not None else ""
    if kind not in _MUTAGEN_TYPES:
        raise VoiceError(str(NOT_AUDIO))
    seconds = float(audio.info.length or 0)  # type: ignore[union-attr]
    if isinstance(audio, OggFileType):
        _check_ogg_ends(data)
    elif isinstance(audio, MP4):
        atoms = _check_mp4(data)
        if not seconds:  # a fragmented MP4 (Safari's recorder, Chrome's mp4): no length up front
            return "audio/mp4", _mp4_fragment_seconds(atoms, data)
    # MP3, WAV, MP4: the length comes from the headers; the bytes must be there to play it.
    bitrate = getattr(audio.info, "bitrate", 0) or 0  # type: ignore[union-attr]
    if kind in ("MP3", "WAVE", "MP4") and bitrate and len(data) < 0.85 * bitrate / 8 * seconds:
        raise VoiceError(str(BROKEN))
    return _MUTAGEN_TYPES[kind], seconds


_MUTAGEN_TYPES = {
    "OggOpus": "audio/ogg",
    "OggVorbis": "audio/ogg",
    "MP4": "audio/mp4",
    "MP3": "audio/mpeg",
    "WAVE": "audio/wav",
    "AAC": "audio/aac",
}


def _check_ogg_ends(data: bytes) -> None:
    """An Ogg stream cut off in transfer ends in half a page."""
    from mutagen.ogg import OggPage

    fileobj = io.BytesIO(data)
    first = OggPage(fileobj)
    last = OggPage.find_last(fileobj, first.serial, finishing=True)
    if last is None or not data.endswith(last.write()):
        raise VoiceError(str(BROKEN))


def _check_mp4(data: bytes) -> Atoms:
    """Every top-level box must fit in the file; a video track is not a voice message."""
    from mutagen.mp4 import Atoms

    atoms = Atoms(io.BytesIO(data))
    if any(atom.offset + atom.length > len(data) for atom in atoms.atoms):
        raise VoiceError(str(BROKEN))
    if b"vide" in b"".join(_handler_types(atoms, data)):
        raise VoiceError(str(VIDEO))
    return atoms


def _u32(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos:pos + 4], "big")


def _mp4_fragment_seconds(atoms: Atoms, data: bytes) -> float:
    """The length of a fragmented MP4: every fragment's sample durations (``trun``, else the
    defaults of ``tfhd`` / ``trex``) over the track's time scale (``mdhd``)."""
    moov = atoms.path(b"moov")[-1]
    mdhd = next(iter(moov.findall(b"mdhd", recursive=True)), None)
    if mdhd is None:
        raise VoiceError(str(NOT_AUDIO))
    body = mdhd.offset + 8
    timescale = _u32(data, body + (20 if data[body] == 1 else 12))
    trex = next(iter(moov.findall(b"trex", recursive=True)), None)
    default = _u32(data, trex.offset + 20) if trex is not None else 0
    ticks = 0
    for moof in (a for a in atoms.atoms if a.name == b"moof"):
        for traf in moof.findall(b"traf"):
            frag_default = default
            for tfhd in traf.findall(b"tfhd"):
                flags, pos = _u32(data, tfhd.offset + 8) & 0xFFFFFF, tfhd.offset + 16
                pos += 8 if flags & 0x1 else 0
                pos += 4 if flags & 0x2 else 0
                frag_default = _u32(data, pos) if flags & 0x8 else frag_default
            for trun in traf.findall(b"trun"):
                ticks += _trun_ticks(data, trun.offset, frag_default)
    if not timescale:
        raise VoiceError(str(NOT_AUDIO))
    return ticks / timescale


def _trun_ticks(data: bytes, offset: int, default: int) -> int:
    """The summed sample durations of one ``trun`` box."""
    flags, count = _u32(data, offset + 8) & 0xFFFFFF, _u32(data, offset + 12)
    pos = offset + 16 + (4 if flags & 0x1 else 0) + (4 if flags & 0x4 else 0)
    if not flags & 0x100:
        return count * default
    step = 4 * sum(1 for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit)
    if pos + count * step > offset + _u32(data, offset):
        raise VoiceError(str(BROKEN))
    return sum(_u32(data, pos + i * step) for i in range(count))


def _handler_types(atoms: Atoms, data: bytes) -> list[bytes]:
    """The handler type of each track (``soun``, ``vide`` …)."""
    found = []
    for trak in atoms.path(b"moov")[-1].findall(b"trak"):
        for hdlr in trak.findall(b"hdlr", recursive=True):
            found.append(data[hdlr.offset + 16:hdlr.offset + 20])
    return found


# --- AMR (3GPP's speech codec; old Android recorders) -----------------------------------------

# Bytes after each frame's one-byte header, by frame type (RFC 4867 §5.3); None: not allowed.
_AMR_NB = (12, 13, 15, 17, 19, 20, 26, 31, 5, None, None, None, None, None, None, 0)
_AMR_WB = (17, 23, 32, 36, 40, 46, 50, 58, 60, 5, None, None, None, None, 0, 0)


def _amr_seconds(data: bytes) -> float:
    """Frames of 20 ms each, counted by walking the frame headers; half a frame is a cut file."""
    if data.startswith(b"#!AMR-WB\n"):
        sizes, pos = _AMR_WB, 9
    elif data.startswith(b"#!AMR\n"):
        sizes, pos = _AMR_NB, 6
    else:
        raise VoiceError(str(NOT_AUDIO))
    frames = 0
    while pos < len(data):
        size = sizes[(data[pos] >> 3) & 0x0F]
        if size is None:
            raise VoiceError(str(NOT_AUDIO))
        pos += 1 + size
        frames += 1
    if pos != len(data):
        raise VoiceError(str(BROKEN))
    return frames * 0.02


# --- WebM (Matroska): what Chrome's and WeChat's recorder write --------------------------------

_EBML, _DOCTYPE = 0x1A45DFA3, 0x4282
_SEGMENT, _CLUSTER, _INFO, _TRACKS, _TRACK_ENTRY, _BLOCK_GROUP = (
    0x18538067, 0x1F43B675, 0x1549A966, 0x1654AE6B, 0xAE, 0xA0)
_TIMECODE_SCALE, _DURATION, _TRACK_TYPE, _CODEC_ID = 0x2AD7B1, 0x4489, 0x83, 0x86
_CLUSTER_TIME, _SIMPLE_BLOCK, _BLOCK = 0xE7, 0xA3, 0xA1
# Elements entered rather than skipped: the rest are leaves or parts not needed here.
_MASTERS = {_SEGMENT, _CLUSTER, _INFO, _TRACKS, _TRACK_ENTRY, _BLOCK_GROUP}
_AUDIO_CODECS = {"A_OPUS", "A_VORBIS", "A_AAC", "A_MPEG/L3", "A_PCM/INT/LIT"}
_FRAME_S = 0.02  # the last block's own length, which no header gives (an Opus frame)
# A minute of Opus in its smallest frames (2.5 ms) is some 36,000 elements; a file holding more is
# not a recording, and walking 2 MB of two-byte elements would take a worker seconds.
_MAX_ELEMENTS = 50_000


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int, bool]:
    """An EBML variable-length integer at ``pos``: (value, length, all-ones = unknown size)."""
    if pos >= len(data) or data[pos] == 0:
        raise VoiceError(str(BROKEN))
    length = 8 - data[pos].bit_length() + 1
    if pos + length > len(data):
        raise VoiceError(str(BROKEN))
    value = int.from_bytes(data[pos:pos + length], "big")
    unknown = value == (1 << (7 * length)) - 1 | (1 << (7 * length))
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
    return value, length, unknown


def _webm_seconds(data: bytes) -> float:
    """The length of a WebM recording: the Duration in its Info when written, else (Chrome's live
    recordings write none) the last block's timestamp. Any element running past the end, or a
    video track, is refused."""
    pos, doctype, scale = 0, "", 1_000_000
    duration: float | None = None
    cluster_time, last_time = 0, 0
    tracks: list[tuple[int, str]] = []
    track_type, codec = 0, ""
    for _step in range(_MAX_ELEMENTS):
        if pos >= len(data):
            break
        element, id_len, _ = _vint(data, pos, keep_marker=True)
        size, size_len, unknown = _vint(data, pos + id_len, keep_marker=False)
        body = pos + id_len + size_len
        if element in _MASTERS or element == _EBML and pos == 0:
            if element == _TRACK_ENTRY:
                if track_type:
                    tracks.append((track_type, codec))
                track_type, codec = 0, ""
            if element == _EBML:  # read the header's DocType, then go on after it
                doctype = _ebml_doctype(data[body:body + size])
                pos = body + size
            else:
                pos = body
            continue
        if unknown or body + size > len(data):
            raise VoiceError(str(BROKEN))
        value = data[body:body + size]
        if element == _TIMECODE_SCALE:
            scale = int.from_bytes(value, "big") or scale
        elif element == _DURATION and size in (4, 8):
            duration = struct.unpack(">f" if size == 4 else ">d", value)[0]
        elif element == _TRACK_TYPE:
            track_type = int.from_bytes(value, "big")
        elif element == _CODEC_ID:
            codec = value.rstrip(b"\0").decode("ascii", "replace")
        elif element == _CLUSTER_TIME:
            cluster_time = int.from_bytes(value, "big")
        elif element in (_SIMPLE_BLOCK, _BLOCK) and size >= 4:
            _, track_len, _ = _vint(value, 0, keep_marker=False)
            relative = struct.unpack(">h", value[track_len:track_len + 2])[0]
            last_time = max(last_time, cluster_time + relative)
        pos = body + size
    else:
        raise VoiceError(str(BROKEN))
    if track_type:
        tracks.append((track_type, codec))
    if doctype not in ("webm", "matroska") or not tracks:
        raise VoiceError(str(NOT_AUDIO))
    if any(kind == 1 for kind, _ in tracks):
        raise VoiceError(str(VIDEO))
    if not any(kind == 2 and c in _AUDIO_CODECS for kind, c in tracks):
        raise VoiceError(str(NOT_AUDIO))
    if duration is not None and duration > 0:
        return duration * scale / 1e9
    return last_time * scale / 1e9 + _FRAME_S if last_time else 0.0


def _ebml_doctype(header: bytes) -> str:
    pos = 0
    while pos < len(header):
        element, id_len, _ = _vint(header, pos, keep_marker=True)
        size, size_len, _ = _vint(header, pos + id_len, keep_marker=False)
        body = pos + id_len + size_len
        if element == _DOCTYPE:
            return header[body:body + size].rstrip(b"\0").decode("ascii", "replace")
        pos = body + size
    return ""


# --- Storing, serving, deleting ---------------------------------------------------------------


def voice_dir() -> Path:
    return Path(str(setting("UPLOAD_DIR"))) / "voice"


def voice_path(clip: VoiceClip) -> Path:
    return voice_dir() / clip.sha256[:2] / clip.sha256


def store(processed: ProcessedVoice, uploaded_by_id: int | None) -> VoiceClip:
    """Write the file (once per content) and return the VoiceClip row (added, not committed)."""
    existing = db.session.scalar(sa.select(VoiceClip).where(VoiceClip.sha256 == processed.sha256))
    clip = existing or VoiceClip(sha256=processed.sha256, mime=processed.mime,
                                 duration_ms=processed.duration_ms, size_bytes=len(processed.data),
                                 uploaded_by_id=uploaded_by_id)
    stored_files.write_once(voice_path(clip), processed.data)
    if existing is None:
        db.session.add(clip)
    return clip


def stored(upload: IO[bytes] | None, by_id: int | None) -> VoiceClip | None:
    """The uploaded recording checked and stored, or None when there was none."""
    return store(process(upload), by_id) if upload is not None else None


def discard(clip: VoiceClip) -> None:
    """Delete the clip's row now and its file once the transaction commits. The caller has
    checked that no record links the clip any more."""
    stored_files.delete_after_commit([voice_path(clip)])
    db.session.delete(clip)


EXTENSIONS = {"audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "m4a", "audio/mpeg": "mp3",
              "audio/wav": "wav", "audio/aac": "aac", "audio/amr": "amr"}
