"""The shape of the code, checked: layers that import only downwards, and views that stay small.

See docs/architecture.md for the layers these tests hold in place.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"

# Web libraries that only the view layer (areas, authz, steps, htmx, web, errors …) may import.
WEB = ("flask", "flask_login", "flask_wtf", "werkzeug", "flask_limiter")
# What each lower layer may not import, whatever its path.
FORBIDDEN = {
    "models": WEB + ("app.services", "app.authz", "app.policy", "app.steps", "app.htmx", "app.settings"),
    "services": WEB + ("app.authz", "app.steps", "app.htmx", "app.web", "app.responses", "app.pages"),
    "policy": WEB + ("app.services", "app.authz", "app.steps", "app.htmx", "app.settings"),
    "clock": WEB + ("app.",),
    "phones": WEB + ("app.",),
}
# flask_babel is allowed everywhere: messages are translated where they are written.
MAX_VIEW_LINES = 30
# Views allowed to run longer, each with the reason. Keep this list short.
LONG_VIEWS: dict[str, str] = {}


def _modules(layer: str) -> list[Path]:
    if layer in ("models", "services"):
        return sorted((APP / layer).rglob("*.py"))
    return [APP / f"{layer}.py"]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "app":  # from app import policy
                found += [(node.lineno, f"app.{alias.name}") for alias in node.names]
    return found


def _forbidden(name: str, rules: tuple[str, ...]) -> bool:
    return any(name == r or name.startswith(r if r.endswith(".") else r + ".") for r in rules)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_lower_layers_import_nothing_from_the_layers_above(layer):
    offences = [
        f"{path.relative_to(APP.parent)}:{line} imports {name}"
        for path in _modules(layer)
        for line, name in _imports(path)
        if _forbidden(name, FORBIDDEN[layer])
    ]
    assert offences == []


def test_the_import_rule_catches_a_service_that_imports_flask(tmp_path):
    """The walker above must see both import forms (a test that cannot fail proves nothing)."""
    bad = tmp_path / "bad.py"
    bad.write_text("import flask\nfrom flask_login import current_user\nfrom app import authz\n")
    names = [n for _, n in _imports(bad)]
    assert [n for n in names if _forbidden(n, FORBIDDEN["services"])] == ["flask", "flask_login", "app.authz"]


def _view_length(func: object) -> tuple[int, str]:
    func = inspect.unwrap(func)  # type: ignore[arg-type]
    lines, start = inspect.getsourcelines(func)  # type: ignore[arg-type]
    tree = ast.parse(inspect.cleandoc("\n" + "".join(lines)) if lines[0].startswith(" ") else "".join(lines))
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
    where = f"{Path(inspect.getsourcefile(func)).relative_to(APP.parent)}:{start}"  # type: ignore[arg-type]
    return node.end_lineno - node.lineno + 1, where  # type: ignore[operator]


def test_every_view_is_at_most_thirty_lines(app):
    too_long = {}
    for endpoint, func in app.view_functions.items():
        if endpoint == "static" or endpoint in LONG_VIEWS:
            continue
        length, where = _view_length(func)
        if length > MAX_VIEW_LINES:
            too_long[endpoint] = f"{length} lines at {where}"
    assert too_long == {}


def test_every_view_says_what_it_is_for(app):
    missing = [e for e, f in app.view_functions.items() if e != "static" and not inspect.unwrap(f).__doc__]
    assert missing == []
