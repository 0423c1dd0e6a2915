"""The bare reference endpoints of the out-of-process benchmark (``bench/load.py``).

A Flask app with nothing of ours in it: ``/hello`` returns a fixed string, ``/template`` renders
one small Jinja template. ``bench/serve.py`` mounts it beside the real app under ``/__bench`` so
that both are served by the same gunicorn workers in the same run: the real pages are reported
as a ratio to ``/hello``, which cancels out the machine, the load generator and gunicorn itself.
Served alone (``gunicorn bench.bare:app``) it gives the RSS of a worker with bare Flask only.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, render_template

app = Flask(__name__, template_folder=str(Path(__file__).resolve().parent / "templates"))


@app.get("/hello")
def hello() -> str:
    return "hello"


@app.get("/template")
def template() -> str:
    # A few variables and a loop: the cost of rendering a small cached template, no database.
    return render_template("bare.html", title="党员中心户", items=["驿站签到", "我的诉求", "民情日记"])
