"""The org admin's 工作看板: charts of their scope over time, and the scope-wide check-in list."""

from flask import Blueprint

bp = Blueprint("overview", __name__, url_prefix="/overview")

from app.overview import views  # noqa: E402,F401  (registers the routes)
