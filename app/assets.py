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
from pathlib import Path

from flask import Flask, Response, current_app, url_for
from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

HASH_LENGTH = 10
# Stylesheets made from app.css for pages that need a small part of it (issue 14: the card form's
# first visit ≤ 30 KB with htmx and CSS): name → (the templates whose pages use it, the scripts
# those pages load). Kept: every rule whose classes and ids all occur in those templates (those
# they extend, include and import) or scripts — a superset of what the pages can show.
SUBSETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "css/resident.css": (("needs/submit.html",), ("js/app.js", "js/voice.js")),
}
_TEMPLATE_REF = re.compile(r'{%-?\s*(?:extends|include|import|from)\s+"([^"]+)"')
_CHROME_REF = re.compile(r'page_chrome\("(\w+)"\)')
# Classes htmx puts on elements while it works (the page's CSS may style them).
_HTMX_CLASSES = "htmx-request htmx-indicator htmx-added htmx-settling htmx-swapping"
_HASHED = re.compile(rf"\.[0-9a-f]{{{HASH_LENGTH}}}\.[A-Za-z0-9]+$")
# Files the service worker keeps for offline use (and the pages need first).
SHELL = ("css/app.css", "js/app.js", "vendor/htmx-2.0.11.min.js", "icons/icon-192.png")


def hashed_name(name: str, content: bytes) -> str:
    """``css/app.css`` → ``css/app.<first 10 hex of sha256>.css``."""
    digest = hashlib.sha256(content).hexdigest()[:HASH_LENGTH]
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{digest}.{suffix}" if dot else f"{name}.{digest}"


def _blocks(css: str) -> list[tuple[str, str]]:
    """The top-level ``prelude { body }`` pairs of a stylesheet without comments."""
    out, i = [], 0
    while (j := css.find("{", i)) >= 0:
        depth, k = 1, j + 1
        while depth:
            depth += {"{": 1, "}": -1}.get(css[k], 0)
            k += 1
        out.append((css[i:j].strip(), css[j + 1:k - 1]))
        i = k
    return out


def _selectors(prelude: str) -> list[str]:
    """A selector list split at its top-level commas (not those inside ``:is(…)``)."""
    out, depth, current = [], 0, ""
    for ch in prelude:
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(ch, 0)
        if ch == "," and not depth:
            out.append(current)
            current = ""
        else:
            current += ch
    return [s.strip() for s in [*out, current] if s.strip()]


def _may_match(selector: str, words: set[str]) -> bool:
    """Whether every class and id the selector requires occurs in ``words`` (what is inside
    parentheses or brackets is left out: ``:not(.x)`` requires no ``.x``)."""
    bare = selector
    while (shorter := re.sub(r"\([^()]*\)", "", bare)) != bare:
        bare = shorter
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    return all(name in words for name in re.findall(r"[.#]([\w-]+)", bare))


def prune_css(css: str, words: set[str]) -> str:
    """The rules of ``css`` that may match a page made of ``words`` (whole @media blocks pruned
    the same way, other at-rules kept), whitespace squeezed."""

    def prune(text: str) -> list[str]:
        kept = []
        for prelude, body in _blocks(text):
            if prelude.startswith(("@media", "@supports")):
                inner = prune(body)
                if inner:
                    kept.append(prelude + "{" + "".join(inner) + "}")
            elif prelude.startswith("@"):
                kept.append(prelude + "{" + body + "}")
            elif selectors := [s for s in _selectors(prelude) if _may_match(s, words)]:
                kept.append(",".join(selectors) + "{" + body.strip() + "}")
        return kept

    text = "\n".join(prune(re.sub(r"/\*.*?\*/", "", css, flags=re.S)))
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"\s*([{};,])\s*", r"\1", text).replace(";}", "}") + "\n"


def page_words(templates: Path, names: tuple[str, ...], scripts: list[str]) -> set[str]:
    """Every word in the templates (and those they extend, include or import, and the parts of the
    page chrome they draw: app/chrome.py) and the scripts:
    the class names and ids their pages can hold are among them."""
    seen: dict[str, str] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen[name] = (templates / name).read_text()
            todo += _TEMPLATE_REF.findall(seen[name])
            todo += [f"_chrome/{part}.html" for part in _CHROME_REF.findall(seen[name])]
    return set(re.findall(r"[A-Za-z_][\w-]*", " ".join([*seen.values(), *scripts, _HTMX_CLASSES])))


def _emit(target: Path, name: str, content: bytes, compressor: Compressor, manifest: dict[str, str]) -> None:
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
        tmp.write_bytes(content)
        made = compressor.compress(str(tmp)) if compressor.should_compress(out.name) else []
        for compressed in made:
            Path(compressed).replace(str(out) + compressed.removeprefix(str(tmp)))
        tmp.replace(out)


def build(source: Path, target: Path, templates: Path | None = None) -> dict[str, str]:
    """Copy (once per content) and compress the files of ``source`` into ``target``, and the
    stylesheets of ``SUBSETS`` made from them (with ``templates``); return the manifest: plain
    name → hashed name."""
    manifest: dict[str, str] = {}
    compressor = Compressor(quiet=True)
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        _emit(target, path.relative_to(source).as_posix(), path.read_bytes(), compressor, manifest)
    if templates is not None:
        css = (source / "css" / "app.css").read_text()
        for name, (pages, scripts) in SUBSETS.items():
            words = page_words(templates, pages, [(source / s).read_text() for s in scripts])
            _emit(target, name, prune_css(css, words).encode(), compressor, manifest)
    return manifest


def _immutable(path: str, url: str) -> bool:
    return bool(_HASHED.search(url))


def init_app(app: Flask) -> None:
    """Build the assets, link pages to the hashed names and put WhiteNoise in front of the app."""
    target = Path(app.config.get("ASSETS_DIR") or Path(app.instance_path) / "assets")
    manifest = build(Path(app.static_folder or "static"), target, Path(app.root_path) / (app.template_folder or "templates"))
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
