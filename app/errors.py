"""Error pages in Chinese; a CSRF failure on an htmx request asks the page to refresh."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.extensions import db

TITLES = {
    400: _l("请求有误"),
    403: _l("没有权限"),
    404: _l("页面不存在"),
    405: _l("请求方式不对"),
    413: _l("文件太大"),
    429: _l("操作太频繁"),
    500: _l("服务器出错了"),
}


def _page(code: int, message: str | None = None):  # type: ignore[no-untyped-def]
    title = str(TITLES.get(code, _l("出错了")))
    return render_template("errors/error.html", code=code, title=title, message=message), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(e: CSRFError):  # type: ignore[no-untyped-def]
        if request.headers.get("HX-Request") == "true":
            return "", 400, {"HX-Refresh": "true"}
        return _page(400, _("页面已过期，请刷新后重试。"))

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):  # type: ignore[no-untyped-def]
        if e.code == 413:
            return _page(413, _("上传的文件太大。"))
        if e.code == 429:
            return _page(429, _("尝试次数过多，请稍后再试。"))
        if e.code in TITLES:
            return _page(e.code)
        return e

    @app.errorhandler(sa.exc.DataError)
    @app.errorhandler(OverflowError)
    def out_of_range(e: Exception):  # type: ignore[no-untyped-def]
        # A number beyond what the database holds (an id typed into a query string or a form):
        # the request is wrong, not the server.
        db.session.rollback()
        return _page(400, _("请求中的数字超出范围。"))

    @app.errorhandler(Exception)
    def server_error(e: Exception):  # type: ignore[no-untyped-def]
        app.logger.exception("unhandled error")
        db.session.rollback()
        if app.config.get("TESTING") and app.config.get("PROPAGATE_TEST_ERRORS", True):
            raise e
        return _page(500, _("请稍后再试；如果一直这样，请联系管理员。"))
