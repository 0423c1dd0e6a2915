"""Real recordings for the voice tests, made on this machine: espeak-ng speaks a sentence in
Mandarin and ffmpeg encodes it as each phone and browser records (nothing binary in git).

Without the tools a test skips with the reason, except in CI, where it fails (``.ci/run`` installs
them). ffmpeg in Debian has no AMR encoder (libopencore-amrnb is not built in), so the AMR file is
made by hand from the format's frame layout: silent frames, but a well-formed file.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import skip_or_fail

SENTENCE = "您好，我家楼道的灯坏了，晚上看不见路，请帮忙修一下，谢谢。"

# name → (file suffix, ffmpeg output options): what Chrome/WeChat, Firefox, Safari/iOS and
# Android's recorders write.
FORMATS: dict[str, tuple[str, list[str]]] = {
    "webm-opus": ("webm", ["-c:a", "libopus", "-b:a", "16k", "-f", "webm"]),
    "webm-opus-live": ("webm", ["-c:a", "libopus", "-b:a", "16k", "-live", "1", "-f", "webm"]),
    "ogg-opus": ("ogg", ["-c:a", "libopus", "-b:a", "16k", "-f", "ogg"]),
    "ogg-vorbis": ("ogg", ["-c:a", "libvorbis", "-q:a", "0", "-f", "ogg"]),
    "m4a-aac": ("m4a", ["-c:a", "aac", "-b:a", "24k", "-f", "mp4"]),
    "m4a-aac-fragmented": ("m4a", ["-c:a", "aac", "-b:a", "24k", "-movflags",
                                   "frag_keyframe+empty_moov+default_base_moof", "-f", "mp4"]),
    "mp3": ("mp3", ["-c:a", "libmp3lame", "-b:a", "24k", "-f", "mp3"]),
    "wav": ("wav", ["-ac", "1", "-ar", "8000", "-c:a", "pcm_s16le", "-f", "wav"]),
}
MIME = {"webm": "audio/webm", "ogg": "audio/ogg", "m4a": "audio/mp4", "mp3": "audio/mpeg",
        "wav": "audio/wav", "amr": "audio/amr"}


def tools() -> None:
    """Skip (or fail in CI) when espeak-ng or ffmpeg is missing."""
    missing = [t for t in ("espeak-ng", "ffmpeg") if shutil.which(t) is None]
    if missing:
        skip_or_fail(f"{' and '.join(missing)} not installed: apt-get install -y espeak-ng ffmpeg")


def _run(args: list[str]) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60)


def speech(tmp_path: Path) -> Path:
    """The sentence, spoken (a WAV of about 6 s)."""
    tools()
    wav = tmp_path / "speech.wav"
    if not wav.exists():
        _run(["espeak-ng", "-v", "cmn", "-s", "150", "-w", str(wav), SENTENCE])
    return wav


def recording(tmp_path: Path, name: str) -> Path:
    """The sentence encoded as ``name`` (a key of FORMATS, or "amr")."""
    if name == "amr":
        return amr(tmp_path, seconds=3)
    suffix, options = FORMATS[name]
    out = tmp_path / f"{name}.{suffix}"
    _run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(speech(tmp_path)), *options, str(out)])
    return out


def long_recording(tmp_path: Path, seconds: int = 600) -> Path:
    """A tone of ``seconds`` at Opus's lowest rate: ten minutes in about 450 KB."""
    tools()
    out = tmp_path / "long.ogg"
    _run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
          f"sine=frequency=440:duration={seconds}:sample_rate=8000", "-c:a", "libopus", "-b:a", "6k",
          "-f", "ogg", str(out)])
    return out


def amr(tmp_path: Path, seconds: float) -> Path:
    """An AMR-NB file of silent 12.2 kbit/s frames (20 ms each): header byte 0x3C, 31 bytes."""
    out = tmp_path / "voice.amr"
    out.write_bytes(b"#!AMR\n" + (b"\x3c" + bytes(31)) * round(seconds / 0.02))
    return out
