"""The members list's rows, written in one pass (issue 14).

A page shows fifty members of six cells each; written by Jinja that is some 700 escapes and 100
link calls, the larger part of the page's cost. ``member_rows`` writes the same ``<tr>`` markup
(``list_table``'s: every cell after the first labelled with its column) with each value escaped
once; the table around it, its columns and the empty case stay in
``templates/structure/_members_table.html``. Importing this module registers the template global.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flask_babel import gettext as _
from markupsafe import Markup, escape

from app.models import MIN_HOUSEHOLDS_PER_MEMBER, MemberCategory
from app.phones import mask_phone
from app.services.structure import MemberRow
from app.structure import bp
from app.web import id_url


@bp.app_template_global()
def member_rows(members: Sequence[MemberRow], columns: Mapping[str, str]) -> Markup:
    """The ``<tr>`` of each member: name (a link, with a badge when not active), masked phone,
    grid, category, central household (its head, a link) and the households covered, flagged
    below 15 for an active member."""
    member_url, household_url = id_url("structure.member", "member_id"), id_url("structure.household", "household_id")
    phone, grid, category, household, covered = (escape(columns[k]) for k in
                                                 ("phone", "grid", "category", "household", "covered"))
    few = f' <span class="badge badge-warn">{escape(_("不足15户"))}</span>'
    categories = {c: escape(c.label) for c in MemberCategory}
    seen: dict[str | None, str] = {}  # grids and heads repeat down a page

    def e(text: str) -> str:
        found = seen.get(text)
        if found is None:
            found = seen[text] = escape(text)
        return found

    out = []
    for m in members:
        low = m.is_active and m.covered < MIN_HOUSEHOLDS_PER_MEMBER
        badge = "" if m.is_active else f'<span class="badge">{escape(m.status.label)}</span>'
        head = ('<span class="muted">—</span>' if m.household is None
                else f'<a href="{household_url(m.central_household_id)}">{e(m.household)}</a>')
        out.append(
            f'      <tr class="{"below" if low else ""}">\n'
            f'        <td><a href="{member_url(m.id)}">{escape(m.name)}</a>\n          {badge}</td>\n'
            f'        <td class="nowrap" data-label="{phone}">{escape(mask_phone(m.phone))}</td>\n'
            f'        <td data-label="{grid}">{e(m.grid)}</td>\n'
            f'        <td data-label="{category}">{categories[m.category]}</td>\n'
            f'        <td data-label="{household}">{head}</td>\n'
            f'        <td class="nowrap" data-label="{covered}">{m.covered}{few if low else ""}</td>\n'
            f'      </tr>\n')
    return Markup("".join(out))
