"""Static files under content-hashed names, compressed once, served before Flask sees the request.

At start-up every file under ``app/static`` is copied to ``ASSETS_DIR`` twice: under its own name
and as ``name.<hash>.ext``, with ``.gz`` and ``.br`` beside the ones worth compressing (WhiteNoise's
compressor). WhiteNoise serves that folder at ``/static/``: a hashed name is cached for ten years as
immutable, so a repeat visit asks for no asset at all; a plain name is revalidated. Pages link the
hashed names (``url_for('static', …)`` is rewritten here). After a deploy an old hashed name is not
in the folder: the request falls through to Flask, whose static route answers a plain 404.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from flask import Flask, Response, current_app, url_for
from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

HASH_LENGTH = 10
_HASHED = re.compile(rf"\.[0-9a-f]{{{HASH_LENGTH}}}\.[A-Za-z0-9]+$")
# Files the service worker keeps for offline use (and the pages need first).
SHELL = ("css/app.css", "js/app.js", "vendor/htmx-2.0.11.min.js", "icons/icon-192.png")


def hashed_name(name: str, content: bytes) -> str:
    """``css/app.css`` → ``css/app.<first 10 hex of sha256>.css``."""
    digest = hashlib.sha256(content).hexdigest()[:HASH_LENGTH]
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{digest}.{suffix}" if dot else f"{name}.{digest}"


def build(source: Path, target: Path) -> dict[str, str]:
    """Copy (once per content) and compress the files of ``source`` into ``target``; return the
    manifest: plain name → hashed name."""
    manifest: dict[str, str] = {}
    compressor = Compressor(quiet=True)
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        name = path.relative_to(source).as_posix()
        content = path.read_bytes()
        hashed = hashed_name(name, content)
        manifest[name] = hashed
        for out_name in (hashed, name):
            out = target / out_name
            if out.exists() and out.read_bytes() == content:
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            # Workers start together: each writes under its own name and compresses there, then
            # renames the compressed files and the file last — so a file that exists is complete,
            # and so are its .br and .gz.
            tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
            shutil.copyfile(path, tmp)
            made = compressor.compress(str(tmp)) if compressor.should_compress(out.name) else []
            for compressed in made:
                Path(compressed).replace(str(out) + compressed.removeprefix(str(tmp)))
            tmp.replace(out)
    return manifest


def _immutable(path: str, url: str) -> bool:
    return bool(_HASHED.search(url))


def init_app(app: Flask) -> None:
    """Build the assets, link pages to the hashed names and put WhiteNoise in front of the app."""
    target = Path(app.config.get("ASSETS_DIR") or Path(app.instance_path) / "assets")
    manifest = build(Path(app.static_folder or "static"), target)
    app.extensions["assets"] = manifest

    @app.url_defaults
    def _hashed_static(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values:
            values["filename"] = manifest.get(values["filename"], values["filename"])

    app.wsgi_app = WhiteNoise(  # type: ignore[method-assign]
        app.wsgi_app, root=str(target), prefix="static/", max_age=0, immutable_file_test=_immutable,
    )


def service_worker() -> Response:
    """``sw.js`` with the shell's hashed URLs and a cache version made of their hashes."""
    manifest: dict[str, str] = current_app.extensions["assets"]
    shell = ["/offline"] + [url_for("static", filename=name) for name in SHELL]
    version = "dy-" + hashlib.sha256(" ".join(manifest[n] for n in SHELL).encode()).hexdigest()[:HASH_LENGTH]
    source = (Path(current_app.static_folder or "static") / "js" / "sw.js").read_text()
    script = source.replace("__VERSION__", version).replace("__SHELL__", json.dumps(shell))
    response = Response(script, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response
