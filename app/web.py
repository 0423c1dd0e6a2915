"""Request-wide behaviour: locale, the login loader, idle timeout, security headers, template globals."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from urllib.parse import urlsplit

from babel import Locale
from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    has_request_context,
    render_template,
    request,
    session,
)
from flask_babel import format_datetime, get_locale, get_translations
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from flask_wtf import csrf as flask_wtf_csrf
from flask_wtf import i18n as flask_wtf_i18n
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape
from werkzeug.routing import IntegerConverter, Map

from app import principal
from app.clock import TZ
from app.extensions import db, login_manager
from app.forms_choices import MAX_ID
from app.htmx import is_partial
from app.phones import mask_phone
from app.principal import Principal

LOCALE_COOKIE = "dy_lang"
DISPLAY_COOKIE = "dy_display"
SUPPORTED = {"zh_Hans_CN", "en"}

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",  # a voice message is played back before it is sent
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "manifest-src 'self'",
        "worker-src 'self'",
    ]
)


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None (no open redirect).

    Browsers drop tabs and newlines inside a URL, so ``/\t/evil.example`` would arrive as
    ``//evil.example``: any control character refuses the target, as do a scheme, a host and a
    backslash (which some browsers read as a slash).
    """
    if not target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target) or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def select_locale() -> str:
    """The language chosen with the switch (a cookie), else simplified Chinese."""
    chosen = request.cookies.get(LOCALE_COOKIE) if has_request_context() else None
    return chosen if chosen in SUPPORTED else current_app.config["BABEL_DEFAULT_LOCALE"]


_babel_locales: dict[str, Locale] = {}


def babel_locale() -> Locale:
    """Flask-Babel's locale selector: the language chosen, as a parsed ``Locale`` kept per code
    (Flask-Babel parses a code it is given on every request that formats or translates)."""
    code = select_locale()
    found = _babel_locales.get(code)
    if found is None:
        found = _babel_locales[code] = Locale.parse(code)
    return found


@login_manager.user_loader
def load_user(token: str) -> Principal | None:
    """The user holding the session token, which changes at logout (see User.session_token): one
    indexed query that also reads the roles and the member record (app/principal.py)."""
    return principal.load(token)


login_manager.login_view = "auth.login"
login_manager.login_message = _l("请先登录。")
login_manager.login_message_category = "info"
# "basic" marks the session non-fresh when the client changes; mobile networks change IP often,
# so "strong" would log members out on the way to a station.
login_manager.session_protection = "basic"
login_manager.refresh_view = "auth.login"
login_manager.needs_refresh_message = _l("为了安全，请重新输入密码。")


SEEN_EVERY_S = 60


def _enforce_admin_idle_timeout() -> None:
    """Sign admins out after a spell of inactivity: kiosks and office tablets are shared."""
    if request.endpoint == "static":  # a file needs no user: do not load one
        return
    if not current_user.is_authenticated or not current_user.is_admin:
        return
    now = datetime.now(UTC)
    last = session.get("seen")
    limit: timedelta = current_app.config["ADMIN_IDLE_TIMEOUT"]
    if last is not None and now - datetime.fromtimestamp(last, UTC) > limit:
        # A new session token ends this session on the server, so neither the cookie nor a
        # remember cookie brings the admin back without a password.
        current_user.end_sessions()
        db.session.commit()
        logout_user()
        session.clear()
        session["_remember"] = "clear"  # logout_user's request to drop the remember cookie
        flash(_l("长时间未操作，已自动退出，请重新登录。"), "info")
        return
    # Stamped at most once a minute: a changed session is a cookie signed and sent again.
    if last is None or now.timestamp() - last >= SEEN_EVERY_S:
        session["seen"] = now.timestamp()


_signed_csrf: dict[tuple[object, str, str], str] = {}
_flask_wtf_generate_csrf = flask_wtf_csrf.generate_csrf


def generate_csrf(secret_key: str | None = None, token_key: str | None = None) -> str:
    """Flask-WTF's ``generate_csrf``, its signed token kept per session token (issue 14).

    Flask-WTF signs the session's raw token again on every request that renders a form or the
    header (an HMAC key derived and a timestamp signed each time). The signed token of a raw
    token stays valid as long as the session when ``WTF_CSRF_TIME_LIMIT`` is None (the setting
    here), so it is signed once per process and handed out again; with a time limit, every
    request signs afresh as before. The check of a posted token is Flask-WTF's, unchanged."""
    config = current_app.config
    field = token_key or config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    if field in g:
        return g.get(field)  # type: ignore[no-any-return]
    if config.get("WTF_CSRF_TIME_LIMIT", 3600) is not None:
        return _flask_wtf_generate_csrf(secret_key, token_key)  # type: ignore[no-any-return]
    raw = session.get(field)
    secret = secret_key or config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
    token = _signed_csrf.get((secret, field, raw)) if isinstance(raw, str) else None
    if token is None:
        # Signed by Flask-WTF (which puts a new raw token in a session that has none: the first
        # page after logging in), and kept under the raw token the session now holds.
        token = _flask_wtf_generate_csrf(secret_key, token_key)
        if len(_signed_csrf) >= 8192:
            _signed_csrf.clear()
        _signed_csrf[(secret, field, session.get(field))] = token
    setattr(g, field, token)
    return token


# Stand for what differs from one request to the next in a page kept by render_unchanging
# (letters and digits only: no escaping touches them, and no page holds them by chance).
_TOKEN_SLOT = "CSRFTOKENSLOTf3a9c1e7d2b8"
_PATH_SLOT = "PATHSLOT6e1d0c9b8a7f"
# Pages kept per process: the least recently used go first. A kept page is 5–40 KB.
KEPT_PAGES = 1024


def _slot(name: str) -> str:
    return f"VALUESLOT{name}7c5e3a1f"


class Unkeyable(TypeError):
    """A page's data holds something that is not plain data (an ORM object, a form): not kept."""


_PLAIN = frozenset((str, int, float, bool, bytes, date, datetime, timedelta, Decimal, type(None)))
_FIELDS: dict[type, tuple[str, ...] | None] = {}  # a dataclass's field names, per type (None: not one)


def keyed(value: object) -> object:
    """``value`` as a hashable key that equals another exactly when the two render the same:
    plain values as they are; lists, tuples, sets, dicts and dataclasses (by type and fields)
    taken apart — or, for a dataclass with a ``kept_version``, by that (what its data was read
    under and worked out from: ``today.MemberToday``). Anything else (an ORM object, a form, a
    lazy string) raises Unkeyable."""
    kind = type(value)
    if kind in _PLAIN or isinstance(value, Enum):
        return value
    if kind is list or kind is tuple:
        return tuple(map(keyed, value))  # type: ignore[call-overload]
    if kind is dict:
        return tuple((k, keyed(v)) for k, v in value.items())  # type: ignore[attr-defined]
    names = _FIELDS.get(kind, ())
    if names == ():
        names = _FIELDS[kind] = (tuple(f.name for f in fields(value))  # type: ignore[arg-type]
                                 if is_dataclass(value) and not isinstance(value, type) else None)
    if names is not None:
        version = getattr(value, "kept_version", None)  # what the object's data is read under
        if version is not None:
            return (kind, version)
        return (kind, *(keyed(getattr(value, name)) for name in names))
    if isinstance(value, (set, frozenset)):
        return frozenset(map(keyed, value))
    if isinstance(value, tuple):  # a named tuple, a Row
        return tuple(map(keyed, value))
    raise Unkeyable(kind.__name__)


class _Kept:
    """Kept pages by key, least recently used dropped first (thread-safe: the dev server and
    threaded workers share it)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.pages: OrderedDict[tuple, str] = OrderedDict()

    def get(self, key: tuple) -> str | None:
        with self.lock:
            page = self.pages.get(key)
            if page is not None:
                self.pages.move_to_end(key)
            return page

    def put(self, key: tuple, page: str) -> None:
        with self.lock:
            self.pages[key] = page
            while len(self.pages) > self.size:
                self.pages.popitem(last=False)


def _visitor(user: object) -> tuple | None:
    """What a kept page depends on about who asks: the principal's record (id, name, roles,
    scopes) and the nav's entries (some follow finer rules than the roles: a mentor's)."""
    if not isinstance(user, Principal):
        return None
    from app import nav

    return user.record, tuple(item.endpoint for item in nav.for_request(user))  # type: ignore[arg-type]


def render_unchanging(template: str, *, slots: dict[str, str | None] | None = None,
                      variant: object = (), build: Callable[[], dict] | None = None, **context: object) -> str:
    """``render_template`` for pages that show no stored data, or only the data in ``variant``
    and ``slots`` (the login, landing and offline pages; the card and plaque forms, whose slot is
    the member's name; the tracking page, the kiosk's answer, the member's inbox and home, whose
    variant is the data they show).

    Such a page is the same for every request with the same data, visitor, language and type size
    but for its CSRF token, its path (a card's token is in it) and the slots' values — so it is
    rendered once per key and kept in the process, and each request gets its own token, path and
    values put in, escaped as the template would. The key is the template and endpoint, the query
    string, the language, type size, whether the request is an htmx fragment, the logged-in user's
    record (``principal.Record``: id, name, roles and scopes — the header's nav and name follow
    from it), the slots left empty or not, and ``variant`` taken apart by :func:`keyed`: data that
    changes makes another key, so a kept page is never out of date. ``build()``, when given,
    returns more of the context — what is costly to make (a form) and needed only when the page is
    rendered, not when the kept page is handed out. A request with a message waiting (flash), a
    POST, or a variant that is not plain data renders as usual."""
    slots = slots or {}
    if request.method != "GET" or "_flashes" in session or current_app.debug:
        return render_template(template, **context, **(build() if build else {}), **slots)
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    try:
        data = keyed(variant)
    except Unkeyable:
        return render_template(template, **context, **(build() if build else {}), **slots)
    token = generate_csrf()  # the request's own (the page's form holds the same)
    path = str(escape(request.path)) if request.view_args else None
    # Everything else the page depends on (CSRF switched off renders no token field: tests do it).
    key = (template, request.endpoint, request.query_string, request.host, select_locale(),
           request.cookies.get(DISPLAY_COOKIE) == "large", current_app.config.get("WTF_CSRF_ENABLED", True),
           is_partial(), _visitor(user),
           tuple((k, bool(v)) for k, v in sorted(slots.items())), data)
    kept: _Kept = current_app.extensions.get("kept_pages") or current_app.extensions.setdefault(
        "kept_pages", _Kept(KEPT_PAGES))
    page = kept.get(key)
    if page is None:
        page = render_template(template, **context, **(build() if build else {}),
                               **{k: v and _slot(k) for k, v in slots.items()})
        page = page.replace(token, _TOKEN_SLOT)
        if path:
            page = page.replace(path, _PATH_SLOT)
        kept.put(key, page)
    page = page.replace(_TOKEN_SLOT, token)
    if path:
        page = page.replace(_PATH_SLOT, path)
    for name, value in slots.items():
        if value:
            page = page.replace(_slot(name), str(escape(value)))
    return page


SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    # The microphone: this site's own pages only (a resident records a voice message).
    ("Permissions-Policy", "geolocation=(), microphone=(self)"),
)


def _security_headers(response: Response) -> Response:
    h = response.headers
    # Each one unless the view set its own (one pass over the headers, not one per header).
    present = {name.lower() for name in h.keys()}  # noqa: SIM118 (iterating Headers gives pairs)
    h.extend([pair for pair in SECURITY_HEADERS if pair[0].lower() not in present])
    if response.mimetype == "text/html":
        vary = h.get("Vary")
        if not vary:
            h["Vary"] = "HX-Request"
        elif "hx-request" not in vary.lower():
            response.vary.add("HX-Request")
        # Personal pages must not linger in caches on shared devices — nor a resident's tracking
        # page or card form, which hold a need's text and status without any login.
        if current_user.is_authenticated or "Cache-Control" not in h:
            h["Cache-Control"] = "no-store"
    return response


class IdConverter(IntegerConverter):
    """``<int:…>`` in a URL: an id the database can hold (PostgreSQL's integer), else no match
    (404) — a huge number must not reach the database and fail there."""

    def __init__(self, map: Map, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)  # type: ignore[arg-type]


def _refuse_nul_bytes() -> None:
    """No text a person types holds a NUL byte; PostgreSQL cannot store one. Refuse it whole."""
    if "\x00" in request.path:
        abort(400)
    if not request.query_string and request.method in ("GET", "HEAD"):
        return  # nothing else to look at (and no parsing of an empty form for it)
    if any(
        "\x00" in value for values in request.values.listvalues() for value in values
    ):
        abort(400)


def _translations(context: Context):  # type: ignore[no-untyped-def]
    """The request's translations: put in each render's context by ``_globals`` (one lookup per
    page), else asked of Flask-Babel (a macro imported without context)."""
    found = context.get("_translations")
    return found if found is not None else get_translations()


def _fill(rv: str, variables: dict[str, object], autoescape: bool) -> str:
    """``rv % variables`` as ``Markup % variables`` would do it when escaping: each value that is
    not a number escaped first, the result marked safe — without Markup's per-value helper objects
    (a page formats dozens of these)."""
    if not autoescape:
        return rv % variables
    safe = {k: v if isinstance(v, _NUMBERS) else escape(v) for k, v in variables.items()}
    return Markup(rv % safe)


_NUMBERS = (int, float, Decimal)


@pass_context
def _gettext(context: Context, string: str, **variables: object) -> str:
    rv = _translations(context).ugettext(string)
    if not variables and "%" not in rv:
        return Markup(rv) if context.eval_ctx.autoescape else rv  # nothing to format (and no "%%" to undo)
    return _fill(rv, variables, context.eval_ctx.autoescape)  # always a format string, as in Jinja's newstyle gettext


@pass_context
def _ngettext(context: Context, singular: str, plural: str, num: int, **variables: object) -> str:
    variables.setdefault("num", num)
    rv = _translations(context).ungettext(singular, plural, num)
    return _fill(rv, variables, context.eval_ctx.autoescape)


_wtforms_catalogues: dict[str, object] = {}


def _wtforms_translations():  # type: ignore[no-untyped-def]
    """WTForms' own messages in the request's language, read once per language and process:
    Flask-WTF reads and parses the catalogue again on every request that builds a form."""
    if not has_request_context() or "babel" not in current_app.extensions:
        return None
    from babel import support
    from wtforms.i18n import messages_path

    locale = get_locale()
    key = str(locale)
    found = _wtforms_catalogues.get(key)
    if found is None:
        found = _wtforms_catalogues[key] = support.Translations.load(messages_path(), [locale], domain="wtforms")
    return found


# Numeric fields of the date patterns the pages use; a pattern of these and literal text is
# formatted here (the same digits in every locale), anything else by Babel (issue 14: Babel's
# formatting is some 40 µs a value, and a list page shows dozens).
_DATE_FIELDS: dict[str, Callable[[datetime], str]] = {
    "yyyy": lambda t: f"{t.year:04d}", "MM": lambda t: f"{t.month:02d}", "M": lambda t: str(t.month),
    "dd": lambda t: f"{t.day:02d}", "d": lambda t: str(t.day), "HH": lambda t: f"{t.hour:02d}",
    "mm": lambda t: f"{t.minute:02d}", "ss": lambda t: f"{t.second:02d}",
}
_date_patterns: dict[str, list | None] = {}


def _date_pattern(fmt: str) -> list | None:
    """``fmt`` as literal strings and field functions, or None when Babel must format it."""
    if fmt not in _date_patterns:
        parts: list | None = []
        for m in re.finditer(r"([A-Za-z])\1*|[^A-Za-z']+|'", fmt):
            piece = m.group(0)
            if piece[0].isascii() and piece[0].isalpha():
                if piece not in _DATE_FIELDS:
                    parts = None
                    break
                parts.append(_DATE_FIELDS[piece])
            elif piece == "'":
                parts = None  # quoted text: Babel's rules
                break
            else:
                parts.append(piece)
        _date_patterns[fmt] = parts
    return _date_patterns[fmt]


def local_time(value: datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """Format a UTC datetime in the user's time zone (Asia/Shanghai)."""
    if value is None:
        return ""
    parts = _date_pattern(fmt) if isinstance(value, datetime) else None
    if parts is None:
        return format_datetime(value, fmt)
    local = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(TZ)
    return "".join(p if isinstance(p, str) else p(local) for p in parts)


def first_invalid() -> bool:
    """True the first time a page renders a refused field (it gets ``autofocus``), then False."""
    if g.get("_first_invalid_seen"):
        return False
    g._first_invalid_seen = True
    return True


def _gate_rate_limiter(app: Flask) -> None:
    """Run Flask-Limiter's before-request check only when there is something for it to check.

    Its middleware check evaluates the application-wide, default, blueprint and meta limits; the
    limits decorating a view are checked by the decorator itself. This app sets none of the
    former (every limit is on its route), yet the check ran its lookups on every request and
    static file. It now runs when any such limit is set, as before."""
    from app.extensions import limiter

    manager = limiter.limit_manager
    check = limiter._check_request_limit
    funcs = app.before_request_funcs.get(None, [])
    if check not in funcs:
        return

    def check_request_limit() -> None:
        if (manager._application_limits or manager._default_limits or manager._blueprint_limits
                or limiter._meta_limits):
            check()

    funcs[funcs.index(check)] = check_request_limit


def _kept_url_for(app: Flask) -> Callable[..., str]:
    """``url_for`` for templates, each URL built once per process (issue 14): werkzeug builds a
    URL in some 10 µs, and a page links the same static files, nav entries and forms every time.
    A URL depends on the endpoint, its values and the script root only (no URL defaults but the
    static files' hashed names, which are fixed for the process; no subdomains); a relative
    endpoint (".name") also on the blueprint, an external one on the host — those, and values
    that are not plain strings or numbers, are built as before. At most 8,192 are kept."""
    build = app.url_for
    _urls: dict[tuple, str] = {}

    def url_for(endpoint: str, **values: object) -> str:
        if endpoint[0] == "." or any(k[0] == "_" or not isinstance(v, str | int) for k, v in values.items()):
            return build(endpoint, **values)  # type: ignore[arg-type]
        key = (endpoint, request.script_root, *sorted(values.items()))
        found = _urls.get(key)
        if found is None:
            found = build(endpoint, **values)  # type: ignore[arg-type]
            if len(_urls) >= 8192:
                _urls.clear()
            _urls[key] = found
        return found

    return url_for


def _id_url(app: Flask) -> Callable[..., Callable[[int], str]]:
    """``id_url(endpoint, name, **values)`` for templates: the URLs of one endpoint that differ
    only in the id ``name`` — a list's link per row — as a function of the id, the URL built once
    per process (issue 14: fifty ``url_for`` calls a page become fifty string joins). The id is
    put where a placeholder id built into the URL stands; a URL the placeholder could be mistaken
    in is built per id as before."""
    build = app.url_for
    patterns: dict[tuple, tuple[str, str] | None] = {}

    def id_url(endpoint: str, name: str, **values: str | int) -> Callable[[int], str]:
        key = (endpoint, name, request.script_root, *sorted(values.items()))
        if key not in patterns:
            url = build(endpoint, **{name: MAX_ID}, **values)
            placeholder = str(MAX_ID)
            head, _found, tail = url.partition(placeholder)
            fits = url.count(placeholder) == 1 and head[-1:] in ("/", "=") and tail[:1] in ("", "/", "?", "&")
            patterns[key] = (head, tail) if fits else None
        pattern = patterns[key]
        if pattern is None:
            return lambda i: build(endpoint, **{name: i}, **values)  # type: ignore[arg-type]
        head, tail = pattern
        return lambda i: f"{head}{int(i)}{tail}"

    return id_url


def id_url(endpoint: str, name: str, **values: str | int) -> Callable[[int], str]:
    """The templates' ``id_url``, for rows written in Python (``structure/tables.py``)."""
    return current_app.jinja_env.globals["id_url"](endpoint, name, **values)  # type: ignore[no-any-return]


def kept_url_for(endpoint: str, **values: object) -> str:
    """``url_for`` as templates call it (each URL built once per process): for the links a view
    or a chart builder makes by the dozen (a chart's month links)."""
    return current_app.jinja_env.globals["url_for"](endpoint, **values)  # type: ignore[no-any-return]


def init_app(app: Flask) -> None:
    """Install the hooks; called before any blueprint adds its routes (the id converter)."""
    app.url_map.converters["int"] = IdConverter
    # Every caller of Flask-WTF's generate_csrf (templates, FlaskForm) gets the kept signed token.
    flask_wtf_csrf.generate_csrf = generate_csrf
    app.jinja_env.globals["csrf_token"] = generate_csrf
    _gate_rate_limiter(app)
    app.before_request(_refuse_nul_bytes)
    app.before_request(_enforce_admin_idle_timeout)
    app.after_request(_security_headers)
    # Templates translate through these: the same as Flask-Babel's (Jinja's newstyle gettext),
    # without two Context.call layers and the alias lookup per string.
    app.jinja_env.globals.update(_=_gettext, gettext=_gettext, ngettext=_ngettext)
    flask_wtf_i18n._get_translations = _wtforms_translations
    app.jinja_env.filters["mask_phone"] = mask_phone
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.globals["first_invalid"] = first_invalid
    app.jinja_env.globals["url_for"] = _kept_url_for(app)
    app.jinja_env.globals["id_url"] = _id_url(app)

    from app import nav

    def main_nav() -> tuple[tuple[tuple[str, str], ...], int]:
        """The header's entries (URL, label) and how many fit the phone's bar, computed when the
        header renders (a fragment or the badge never asks)."""
        items = nav.for_request(current_user)
        return nav.entries(items, select_locale()), nav.bar_size(len(items))

    app.jinja_env.globals["main_nav"] = main_nav

    # The request's translations, by the language chosen (select_locale): kept per language and
    # process rather than looked up through Flask-Babel's context for every page (nothing here
    # renders a page inside ``force_locale``).
    catalogues: dict[str, object] = {}

    @app.context_processor
    def _globals() -> dict:
        locale = select_locale()
        return {
            "is_partial": is_partial,
            "current_locale": locale,
            "_translations": catalogues.get(locale) or catalogues.setdefault(locale, get_translations()),
            "large_type": request.cookies.get(DISPLAY_COOKIE) == "large",
        }
