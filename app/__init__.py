"""党员中心户服务平台 — application factory."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app import config


class _App(Flask):
    """Flask, asking once per function whether it is a coroutine: ``ensure_sync`` runs for every
    hook and view of every request (a dozen ``inspect`` calls; issue 14), and nothing here is
    async, so the answer never changes."""

    def ensure_sync(self, func):  # type: ignore[no-untyped-def]
        kept = self.__dict__.setdefault("_dy_sync", {})
        found = kept.get(func)
        if found is None:
            found = kept[func] = super().ensure_sync(func)
        return found


def create_app(test_config: dict | None = None, *, commands: bool = True) -> Flask:
    """Create and configure the app: defaults, then the environment, then ``test_config``.

    ``commands=False`` (a gunicorn worker, see wsgi.py) leaves out the ``flask`` commands and
    Alembic behind ``flask db``: a worker never runs them, and they would cost it 12 MB."""
    app = _App(__name__, instance_relative_config=True)
    instance = Path(
        (test_config or {}).get("INSTANCE_PATH") or os.environ.get("INSTANCE_PATH") or app.instance_path
    )
    app.instance_path = str(instance)
    app.config.from_mapping(config.load(Path(app.root_path), instance, test_config))
    instance.mkdir(parents=True, exist_ok=True)

    if app.config["TRUSTED_PROXIES"]:
        n = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    from app import assets, chrome, errors, sessions, sms, web
    from app.extensions import babel, compress, csrf, db, limiter, login_manager
    from app.services import counters

    # First registered, so its after_request runs last, on the finished response.
    compress.init_app(app)
    db.init_app(app)
    counters.install()
    if commands:
        from flask_migrate import Migrate

        Migrate(app, db, directory=str(Path(app.root_path).parent / "migrations"),
                render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=web.babel_locale, timezone_selector=lambda: "Asia/Shanghai")
    login_manager.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            from app.database import configure_sqlite

            configure_sqlite(db.engine, synchronous=app.config["SQLITE_SYNCHRONOUS"])

    sessions.init_app(app)
    web.init_app(app)
    chrome.init_app(app)
    assets.init_app(app)
    errors.init_app(app)
    sms.init_app(app)
    if commands:
        from app import cli

        cli.init_app(app)

    from app.activities.views import bp as activities_bp
    from app.audit.views import bp as audit_bp
    from app.auth.views import bp as auth_bp
    from app.checkin.views import bp as checkin_bp
    from app.diary.views import bp as diary_bp
    from app.evaluation import bp as evaluation_bp
    from app.households.views import bp as households_bp
    from app.main.views import bp as main_bp
    from app.mentoring.views import bp as mentoring_bp
    from app.needs import bp as needs_bp
    from app.nominations.views import bp as nominations_bp
    from app.notifications.views import bp as notifications_bp
    from app.overview import bp as overview_bp
    from app.points.views import bp as points_bp
    from app.stations.views import bp as stations_bp
    from app.structure.views import bp as structure_bp
    from app.training import bp as training_bp
    from app.visits.views import bp as visits_bp

    for bp in (
        auth_bp,
        main_bp,
        structure_bp,
        stations_bp,
        checkin_bp,
        activities_bp,
        diary_bp,
        visits_bp,
        nominations_bp,
        households_bp,
        needs_bp,
        notifications_bp,
        audit_bp,
        overview_bp,
        training_bp,
        points_bp,
        mentoring_bp,
        evaluation_bp,
    ):
        app.register_blueprint(bp)
    return app
