"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi run``.

Served by gunicorn, the app leaves out the ``flask`` commands (and Alembic): a worker never runs
them. Through the ``flask`` command (``flask --app wsgi db upgrade``) they are there."""

import os

from app import create_app

app = create_app(commands=os.environ.get("FLASK_RUN_FROM_CLI") == "true")
