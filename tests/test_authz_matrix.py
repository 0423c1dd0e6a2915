"""The authorisation matrix (issue 12): every URL rule × every role × own / same-node-other /
other-node object, with the status each must answer, in ONE table (``MATRIX``).

The rules come from ``app.url_map``: a rule without an entry fails the test and names itself, so a
new area must say who may use each of its routes. State-changing routes (POST) are sent with an
empty form and the whole database is compared before and after every refused attempt; an allowed
one that wrote is undone before the next request, so every cell starts from the same world.

How to read a row: nine columns, in the order of ``ROLES`` — anonymous, resident, member,
central-household head, station admin, grid / community / township / district org admin. A column
is one status for every object, or three (``own/same/other``) for rules that take an id:
``own`` is the primary member's object (or their grid's, their station's), ``same`` another
person's in the same node, ``other`` one in the other township (see tests/trust_world.py).
``L`` is a redirect to the login page; ``303`` any other redirect.

To print the table the app answers today (to add a new area's rows, then check each by hand):
``MATRIX_PRINT=/tmp/matrix.txt pytest tests/test_authz_matrix.py``.
"""

from __future__ import annotations

import os

import pytest

from app.clock import local_today
from tests import trust_world as tw
from tests.trust_world import OBJECTS, ROLES

pytestmark = pytest.mark.slow

# A refused POST may write only this, by design (a failed login is audited).
REFUSAL_WRITES = {("auth.login", "POST")}
# Where a redirect to the login page is the success (logging out).
LOGIN_IS_SUCCESS = {("auth.logout", "POST")}
REFUSED = {"L", "400", "401", "403", "404", "405", "409", "410", "422", "429"}

# What a POST is sent (an empty form elsewhere): enough for the request to reach the service, so
# the rules checked there (a grid admin may see an adjustment but not decide it) are tried too.
# A callable gets the world and the object (own/same/other).
FORMS: dict[str, dict | object] = {
    "households.open_adjustment": {"reason": "户主搬迁"},
    "households.review_adjustment": {"decision": "approve", "comment": "同意"},
    "households.decide_adjustment": {"outcome": "kept", "comment": "保留"},
    "nominations.community_review": {"decision": "approve", "comment": "同意"},
    "nominations.township_review": {"decision": "approve", "comment": "同意"},
    "nominations.resolve_objection": lambda w, obj: {
        f"r{w.object_id('objection', obj, '')}-outcome": "dismissed",
        f"r{w.object_id('objection', obj, '')}-resolution": "已核实"},
    # The need page's forms carry prefixes (p-, r-, h-, pass-, a-): a field without one is not read.
    "needs.progress": {"p-text": "已联系物业"},
    "needs.resolve": {"r-outcome": "solved", "r-note": "灯已换好"},
    "needs.hide": {"h-reason": "重复提交"},
    "needs.pass_on": lambda w, obj: {"pass-member": w.ids["member"][1]},
    "needs.assign": lambda w, obj: {"a-member": w.ids["member"][0]},
    "activities.return_": {"reason": "地点不符"},
    "stations.manual": lambda w, obj: {"member_id": w.ids["member"][0]},
    "stations.add_admin": {"phone": "13700009999"},
    "households.grant_title": lambda w, obj: {"year": str(w.ids["year"][0])},
    "households.revoke_title": {"reason": "不再符合示范标准"},
    "points.correct": {"reason": "重复计分"},
    "mentoring.record": lambda w, obj: {"contact_date": str(local_today()), "way": "phone",
                                        "discussed": "商量入户走访"},
    "mentoring.edit_post": {"name": "政策宣讲岗", "duty": "宣讲惠民政策（修订）", "activity_kind": ""},
    # The post of the member's grid: it fits the member and the fellow (the other member's
    # organisation does not offer it: refused by the service).
    "mentoring.member_post": lambda w, obj: {"post_type_id": str(w.ids["post"][0]), "duty": "联系楼栋"},
    "evaluation.record_outcome": {"kind": "reserve_pool", "reason": "群众认可"},
    "evaluation.withdraw_outcome": lambda w, obj: {f"w{w.object_id('outcome', obj, '')}-reason": "记录有误"},
    "evaluation.weights": {f: "10" for f in ("points", "activities", "visit_coverage", "needs_rates",
                                            "training_hours", "mentoring", "complaints")},
    "evaluation.campaign_apply": {"statement": "本户常年服务群众"},
    # A household under the campaign's node that is not yet its candidate (none for the other's).
    "evaluation.campaign_propose": lambda w, obj: {"household_id": str(w.ids["central"][1 if obj == "same" else 0])},
    "evaluation.campaign_decide": lambda w, obj: {
        f"d{w.object_id('candidate', obj, '')}-decision": "awarded",
        f"d{w.object_id('candidate', obj, '')}-reason": "服务群众成效好"},
}

#   endpoint + method            anon resident member head station grid community township district
MATRIX: dict[str, str] = {
    "activities.detail GET"                   : "L 404 200/404/404 200/200/404 200/404/404 200/200/404 200/200/404 200/200/404 200",
    "activities.edit GET"                     : "L 404 200/404/404 403/403/404 403/404/404 200/200/404 200/200/404 200/200/404 200",
    "activities.edit POST"                    : "L 404 422/404/404 403/403/404 403/404/404 422/422/404 422/422/404 422/422/404 422",
    "activities.household GET"                : "L 404 404 200/404/404 404 200/200/404 200/200/404 200/200/404 200",
    "activities.ledger_export GET"            : "L 403 403 403 403 200 200 200 200",
    "activities.ledger_view GET"              : "L 403 403 403 403 200 200 200 200",
    "activities.mine GET"                     : "L 403 200 200 403 403 403 403 403",
    "activities.new GET"                      : "L 403 200 200 403 403 403 403 403",
    "activities.new POST"                     : "L 403 422 422 403 403 403 403 403",
    "activities.photo GET"                    : "L 404 200/404/404 200/200/404 200/404/404 200/200/404 200/200/404 200/200/404 200",
    "activities.photo_thumb GET"              : "L 404 200/404/404 200/200/404 200/404/404 200/200/404 200/200/404 200/200/404 200",
    "activities.pick_members GET"             : "L 403 200 200 403 403 403 403 403",
    "activities.pick_residents GET"           : "L 403 200 200 403 403 403 403 403",
    "activities.return_ POST"                 : "L 404 403/404/404 403/403/404 303/404/404 403/403/404 303/403/404 303/403/404 303/403/303",
    "activities.verify POST"                  : "L 404 403/404/404 403/403/404 303/404/404 403/403/404 303/403/404 303/403/404 303/403/303",
    "activities.verify_queue GET"             : "L 403 403 403 200 200 200 200 200",

    "audit.export GET"                        : "L 403 403 403 403 403 403 403 200",
    "audit.index GET"                         : "L 403 403 403 403 403 403 403 200",

    "auth.change_password GET"                : "L 200 200 200 200 200 200 200 200",
    "auth.change_password POST"               : "L 422 422 422 422 422 422 422 422",
    "auth.login GET"                          : "200 200 200 200 200 200 200 200 200",
    "auth.login POST"                         : "422 422 422 422 422 422 422 422 422",
    "auth.logout POST"                        : "L L L L L L L L L",

    "checkin.code GET"                        : "L 403 200 200 403 403 403 403 403",
    "checkin.code POST"                       : "L 403 422 422 403 403 403 403 403",
    "checkin.done GET"                        : "L 403 200/404/404 404 403 403 403 403 403",
    "checkin.kiosk_scan GET"                  : "L 403 200 200 403 403 403 403 403",
    "checkin.mine GET"                        : "L 403 200 200 403 403 403 403 403",
    "checkin.poster_scan GET"                 : "L 403 200 200 403 403 403 403 403",
    "checkin.resume GET"                      : "L 410 410 410 410 410 410 410 410",

    "diary.detail GET"                        : "L 404 200/404/404 200/200/404 404 200/200/404 200/200/404 200/200/404 200",
    "diary.household GET"                     : "L 404 404 200/404/404 404 200/200/404 200/200/404 200/200/404 200",
    "diary.index GET"                         : "L 403 200 200 403 403 403 403 403",
    "diary.new GET"                           : "L 403 200 200 403 403 403 403 403",
    "diary.new POST"                          : "L 403 422 422 403 403 403 403 403",
    "diary.to_need POST"                      : "L 403 303/404/404 403/403/404 403 403 403 403 403",

    "evaluation.campaign GET"                 : "L 404 404 200/200/404 404 200/404/404 200/200/404 200/200/404 200",
    "evaluation.campaign_apply POST"          : "L 404 404 303/422/404 404 403/404/404 403/403/404 403/403/404 403",
    "evaluation.campaign_close POST"          : "L 403 403 403 403 303/404/404 303/303/404 303/303/404 303",
    "evaluation.campaign_decide POST"         : "L 403 403 403 403 303/404/404 303/303/404 303/303/404 303",
    "evaluation.campaign_new GET"             : "L 403 403 403 403 200 200 200 200",
    "evaluation.campaign_new POST"            : "L 403 403 403 403 422 422 422 422",
    "evaluation.campaign_propose POST"        : "L 403 403 403 403 303/404/404 303/303/404 303/303/404 303/303/422",
    "evaluation.campaigns GET"                : "L 403 403 403 403 200 200 200 200",
    "evaluation.campaigns_export GET"         : "L 403 403 403 403 200 200 200 200",
    "evaluation.index GET"                    : "L 403 403 403 403 200 200 200 200",
    "evaluation.record_outcome POST"          : "L 403 403 403 403 303/404/404 303/303/404 303/303/404 303",
    "evaluation.records GET"                  : "L 403 403 403 403 200/404/404 200/200/404 200/200/404 200",
    "evaluation.reserve GET"                  : "L 403 403 403 403 200 200 200 200",
    "evaluation.reserve_export GET"           : "L 403 403 403 403 200 200 200 200",
    "evaluation.sheet GET"                    : "L 403 403 403 403 200/404/404 200/200/404 200/200/404 200",
    "evaluation.sheet_export GET"             : "L 403 403 403 403 200/404/404 200/200/404 200/200/404 200",
    "evaluation.subject_page GET"             : "L 403 403 403 403 200/404/404 200/200/404 200/200/404 200",
    "evaluation.weights GET"                  : "L 403 403 403 403 200/404/404 200/200/404 200/200/404 200",
    "evaluation.weights POST"                 : "L 403 403 403 403 303/404/404 303/303/404 303/303/404 303",
    "evaluation.weights_clear POST"           : "L 403 403 403 403 303/404/404 303/303/404 303/303/404 303",
    "evaluation.withdraw_outcome POST"        : "L 403 403 403 403 303/403/404 303/303/404 303/303/404 303",

    "households.apply_gap POST"               : "L 403 403 403 403 400 400 400 400",
    "households.decide_adjustment POST"       : "L 403 403 403 403 422/422/404 422/422/404 422/422/404 422",
    "households.detail GET"                   : "L 404 200/404/404 200/404/404 404 200/200/404 200/200/404 200/200/404 200",
    "households.export GET"                   : "L 403 403 403 403 200 200 200 200",
    "households.gaps GET"                     : "L 403 403 403 403 200 200 200 200",
    "households.grant_title POST"             : "L 403 403 403 403 303/303/404 303/303/404 303/303/404 303",
    "households.index GET"                    : "L 403 403 403 403 200 200 200 200",
    "households.link_member POST"             : "L 403 403 403 403 422/422/404 422/422/404 422/422/404 422",
    "households.link_members POST"            : "L 403 403 403 403 422/422/404 422/422/404 422/422/404 422",
    "households.mentor POST"                  : "L 403 403 403 403 422/422/404 422/422/404 422/422/404 422",
    "households.mentors GET"                  : "L 403 403 403 403 200 200 200 200",
    "households.open_adjustment POST"         : "L 403 403 403 403 422/422/404 422/422/404 422/422/404 422",
    "households.plaque GET"                   : "L 403 403 403 403 200/200/404 200/200/404 200/200/404 200",
    "households.plaque_png GET"               : "L 403 403 403 403 200/200/404 200/200/404 200/200/404 200",
    "households.plaque_reissue POST"          : "L 403 403 403 403 303/303/404 303/303/404 303/303/404 303",
    "households.plaque_svg GET"               : "L 403 403 403 403 200/200/404 200/200/404 200/200/404 200",
    "households.profile POST"                 : "L 403 403 403 403 422/422/404 422/422/404 422/422/404 422",
    "households.residents GET"                : "L 403 403 403 403 200 200 200 200",
    "households.residents POST"               : "L 403 403 403 403 422 422 422 422",
    "households.review_adjustment POST"       : "L 403 403 403 403 403/403/404 303/303/404 303/303/404 303",
    "households.revoke_title POST"            : "L 403 403 403 403 303/303/404 303/303/404 303/303/404 303",
    "households.types GET"                    : "L 403 403 403 403 200 200 200 200",
    "households.types POST"                   : "L 403 403 403 403 422 422 422 422",
    "households.unlink_member POST"           : "L 403 403 403 403 303/404/404 303/404/404 303/404/404 303/404/404",

    "main.coming GET"                         : "L 200 200 200 200 200 200 200 200",
    "main.healthz GET"                        : "200 200 200 200 200 200 200 200 200",
    "main.index GET"                          : "200 200 200 200 200 200 200 200 200",
    "main.manifest GET"                       : "200 200 200 200 200 200 200 200 200",
    "main.offline GET"                        : "200 200 200 200 200 200 200 200 200",
    "main.service_worker GET"                 : "200 200 200 200 200 200 200 200 200",
    "main.set_display POST"                   : "303 303 303 303 303 303 303 303 303",
    "main.set_language POST"                  : "303 303 303 303 303 303 303 303 303",

    "mentoring.admin GET"                     : "L 403 403 403 403 200 200 200 200",
    "mentoring.delete_post POST"              : "L 403 403 403 403 303/403/404 303/303/404 303/303/404 303",
    "mentoring.edit_post GET"                 : "L 403 403 403 403 200/403/404 200/200/404 200/200/404 200",
    "mentoring.edit_post POST"                : "L 403 403 403 403 303/403/404 303/303/404 303/303/404 303",
    "mentoring.end_post POST"                 : "L 403 403 403 403 303/303/404 303/303/404 303/303/404 303",
    "mentoring.holders GET"                   : "L 403 403 403 403 200 200 200 200",
    "mentoring.household GET"                 : "L 404 404 200/200/404 404 200/200/404 200/200/404 200/200/404 200",
    "mentoring.member_post GET"               : "L 403 403 403 403 200/200/404 200/200/404 200/200/404 200",
    "mentoring.member_post POST"              : "L 403 403 403 403 303/303/404 303/303/404 303/303/404 303/303/422",
    "mentoring.mentors GET"                   : "L 403 403 403 403 200 200 200 200",
    "mentoring.mentors_export GET"            : "L 403 403 403 403 200 200 200 200",
    "mentoring.mine GET"                      : "L 403 403 200 403 403 403 403 403",
    "mentoring.post_active POST"              : "L 403 403 403 403 303/403/404 303/303/404 303/303/404 303",
    "mentoring.posts GET"                     : "L 403 403 403 403 200 200 200 200",
    "mentoring.posts POST"                    : "L 403 403 403 403 422 422 422 422",
    "mentoring.record POST"                   : "L 404 404 403/303/404 404 403/403/404 403/403/404 403/403/404 403",

    "needs.accept POST"                       : "L 404 303/404/404 403/403/404 404 403/403/404 403/403/404 403/403/404 403",
    "needs.assign POST"                       : "L 403 403 403 403 303/303/404 303/303/404 303/303/404 303/303/422",
    "needs.card GET"                          : "200 200 200 200 200 200 200 200 200",
    "needs.card POST"                         : "422 422 422 422 422 422 422 422 422",
    "needs.card_qr GET"                       : "L 404 200/404/404 404 404 200/200/404 200/200/404 200/200/404 200",
    "needs.card_reissue POST"                 : "L 404 303/404/404 404 404 303/303/404 303/303/404 303/303/404 303",
    "needs.cards GET"                         : "L 403 200 200 403 403 403 403 403",
    "needs.dashboard GET"                     : "L 403 403 403 403 200 200 200 200",
    "needs.dashboard_export GET"              : "L 403 403 403 403 200 200 200 200",
    "needs.detail GET"                        : "L 404 200/404/404 200/200/404 404 200/200/404 200/200/404 200/200/404 200",
    "needs.dispatch GET"                      : "L 403 403 403 403 200 200 200 200",
    "needs.dispatch_export GET"               : "L 403 403 403 403 200 200 200 200",
    "needs.hide POST"                         : "L 403 403 403 403 303/303/404 303/303/404 303/303/404 303",
    "needs.inbox GET"                         : "L 403 200 200 403 403 403 403 403",
    "needs.mine GET"                          : "L 200 403 403 403 403 403 403 403",
    "needs.new GET"                           : "200 200 200 200 200 200 200 200 200",
    "needs.new POST"                          : "422 422 422 422 422 422 422 422 422",
    "needs.pass_on POST"                      : "L 404 422/404/404 403/403/404 404 403/403/404 403/403/404 403/403/404 403",
    "needs.photo GET"                         : "L 404 200/404/404 200/200/404 404 200/200/404 200/200/404 200/200/404 200",
    "needs.plaque GET"                        : "200 200 200 200 200 200 200 200 200",
    "needs.plaque POST"                       : "422 422 422 422 422 422 422 422 422",
    "needs.plaque_qr GET"                     : "L 404 404 200/404/404 404 200/200/404 200/200/404 200/200/404 200",
    "needs.progress POST"                     : "L 404 422/404/404 403/403/404 404 403/403/404 403/403/404 403/403/404 403",
    "needs.rate POST"                         : "422 422 422 422 422 422 422 422 422",
    "needs.register GET"                      : "200 200 200 200 200 200 200 200 200",
    "needs.register POST"                     : "422 422 422 422 422 422 422 422 422",
    "needs.resolve POST"                      : "L 404 422/404/404 403/403/404 404 403/403/404 403/403/404 403/403/404 403",
    "needs.rights GET"                        : "200 200 200 200 200 200 200 200 200",
    "needs.rights_erase POST"                 : "422 200 422 422 422 422 422 422 422",
    "needs.rights_erase_confirm POST"         : "422 422 422 422 422 422 422 422 422",
    "needs.rights_export POST"                : "422 200 422 422 422 422 422 422 422",
    "needs.sla GET"                           : "L 403 403 403 403 200 200 200 200",
    "needs.sla POST"                          : "L 403 403 403 403 422 422 422 422",
    "needs.track GET"                         : "200 200 200 200 200 200 200 200 200",
    "needs.track POST"                        : "422 422 422 422 422 422 422 422 422",
    "needs.track_photo GET"                   : "200/404/404 200/404/404 200/404/404 200/404/404 200/404/404 200/404/404 200/404/404 200/404/404 200/404/404",
    "needs.track_token GET"                   : "200 200 200 200 200 200 200 200 200",
    "needs.track_voice GET"                   : "200/404/404 200/404/404 200/404/404 200/404/404 200/404/404 200/404/404 200/404/404 200/404/404 200/404/404",
    "needs.voice GET"                         : "L 404 200/404/404 200/200/404 404 200/200/404 200/200/404 200/200/404 200",

    "nominations.community_review POST"       : "L 403 403 403 403 404 303/303/404 303/303/404 303",
    "nominations.detail GET"                  : "L 404 200/404/404 404 404 404 200/200/404 200/200/404 200",
    "nominations.establish POST"              : "L 403 403 403 403 404 422/422/404 422/422/404 422",
    "nominations.export GET"                  : "L 403 403 403 403 200 200 200 200",
    "nominations.index GET"                   : "L 403 403 403 403 200 200 200 200",
    "nominations.new GET"                     : "L 403 403 403 403 200 200 200 200",
    "nominations.new POST"                    : "L 403 403 403 403 422 422 422 422",
    "nominations.notice GET"                  : "200 200 200 200 200 200 200 200 200",
    "nominations.object_to POST"              : "404 404 404 404 404 404 404 404 404",
    "nominations.resolve_objection POST"      : "L 403 403 403 403 404 422/422/404 422/422/404 422",
    "nominations.reveal_phone GET"            : "L 403 403 403 403 404 200/200/404 200/200/404 200",
    "nominations.self_nominate GET"           : "L 403 200 200 403 403 403 403 403",
    "nominations.self_nominate POST"          : "L 403 422 422 403 403 403 403 403",
    "nominations.settings GET"                : "L 403 403 403 403 404 404 200/200/404 200",
    "nominations.settings POST"               : "L 403 403 403 403 404 404 422/422/404 422",
    "nominations.signoff POST"                : "L 403 403 403 403 404 422/422/404 422/422/404 422",
    "nominations.township_review POST"        : "L 403 403 403 403 404 422/422/404 422/422/404 422",

    "notifications.badge GET"                 : "L 200 200 200 200 200 200 200 200",
    "notifications.index GET"                 : "L 200 200 200 200 200 200 200 200",
    "notifications.open_note GET"             : "L 303/404/404 303/404/404 303/404/404 303/404/404 303/404/404 303/404/404 303/404/404 303/404/404",
    "notifications.read_all POST"             : "L 303 303 303 303 303 303 303 303",

    "overview.checkins GET"                   : "L 403 403 403 403 200 200 200 200",
    "overview.checkins_export GET"            : "L 403 403 403 403 200 200 200 200",
    "overview.index GET"                      : "L 403 403 403 403 200 200 200 200",
    "overview.monthly_export GET"             : "L 403 403 403 403 200 200 200 200",

    "points.correct GET"                      : "L 403 403 403 403 200/200/404 200/200/404 200/200/404 200",
    "points.correct POST"                     : "L 403 403 403 403 303/303/404 303/303/404 303/303/404 303",
    "points.member_ledger GET"                : "L 403 403 403 403 200/200/404 200/200/404 200/200/404 200",
    "points.mine GET"                         : "L 403 200 200 403 403 403 403 403",
    "points.ranking GET"                      : "L 403 403 403 403 200 200 200 200",
    "points.ranking_export GET"               : "L 403 403 403 403 200 200 200 200",
    "points.rule_edit GET"                    : "L 403 403 403 403 200/404/404 200/200/404 200/200/404 200",
    "points.rule_edit POST"                   : "L 403 403 403 403 422/404/404 422/422/404 422/422/404 422",
    "points.rule_inherit POST"                : "L 403 403 403 403 422/404/404 422/422/404 422/422/404 422",
    "points.rules GET"                        : "L 403 403 403 403 200 200 200 200",

    "stations.add_admin POST"                 : "L 403 403 403 403/404/404 404 422/422/404 422/422/404 422",
    "stations.create GET"                     : "L 403 403 403 403 200 200 200 200",
    "stations.create POST"                    : "L 403 403 403 403 422 422 422 422",
    "stations.detail GET"                     : "L 403 403 403 200/404/404 404 200/200/404 200/200/404 200",
    "stations.edit GET"                       : "L 403 403 403 403/404/404 404 200/200/404 200/200/404 200",
    "stations.edit POST"                      : "L 403 403 403 403/404/404 404 422/422/404 422/422/404 422",
    "stations.event_detail GET"               : "L 403 403 403 200/404/404 404 200/200/404 200/200/404 200",
    "stations.event_edit GET"                 : "L 403 403 403 200/404/404 404 200/200/404 200/200/404 200",
    "stations.event_edit POST"                : "L 403 403 403 422/404/404 404 422/422/404 422/422/404 422",
    "stations.event_new GET"                  : "L 403 403 403 200/404/404 404 200/200/404 200/200/404 200",
    "stations.event_new POST"                 : "L 403 403 403 422/404/404 404 422/422/404 422/422/404 422",
    "stations.events GET"                     : "L 403 403 403 200/404/404 404 200/200/404 200/200/404 200",
    "stations.index GET"                      : "L 403 403 403 200 200 200 200 200",
    "stations.kiosk GET"                      : "L 403 403 403 200/404/404 404 200/200/404 200/200/404 200",
    "stations.kiosk_live GET"                 : "L 403 403 403 200/404/404 404 200/200/404 200/200/404 200",
    "stations.kiosk_qr GET"                   : "L 403 403 403 200/404/404 404 200/200/404 200/200/404 200",
    "stations.ledger_export GET"              : "L 403 403 403 200/404/404 404 200/200/404 200/200/404 200",
    "stations.ledger_view GET"                : "L 403 403 403 200/404/404 404 200/200/404 200/200/404 200",
    "stations.manual GET"                     : "L 403 403 403 200/404/404 404 200/200/404 200/200/404 200",
    "stations.manual POST"                    : "L 403 403 403 303/404/404 404 303/303/404 303/303/404 303/303/422",
    "stations.poster GET"                     : "L 403 403 403 200/404/404 404 200/200/404 200/200/404 200",
    "stations.poster_qr GET"                  : "L 403 403 403 302/404/404 404 302/302/404 302/302/404 302",
    "stations.regenerate_poster POST"         : "L 403 403 403 303/404/404 404 303/303/404 303/303/404 303",
    "stations.remove_admin POST"              : "L 403 403 403 403/404/404 404 303/303/404 303/303/404 303",

    "structure.household GET"                 : "L 403 403 403 403 200/200/404 200/200/404 200/200/404 200",
    "structure.households GET"                : "L 403 403 403 403 200 200 200 200",
    "structure.households_export GET"         : "L 403 403 403 403 200 200 200 200",
    "structure.import_confirm POST"           : "L 403 403 403 403 422 422 422 422",
    "structure.import_roster GET"             : "L 403 403 403 403 200 200 200 200",
    "structure.import_roster POST"            : "L 403 403 403 403 422 422 422 422",
    "structure.import_template GET"           : "L 403 403 403 403 200 200 200 200",
    "structure.index GET"                     : "L 403 403 403 403 200 200 200 200",
    "structure.member GET"                    : "L 403 403 403 403 200/200/404 200/200/404 200/200/404 200",
    "structure.member_password POST"          : "L 403 403 403 403 200/200/404 200/200/404 200/200/404 200",
    "structure.member_phone POST"             : "L 403 403 403 403 200/200/404 200/200/404 200/200/404 200",
    "structure.members GET"                   : "L 403 403 403 403 200 200 200 200",
    "structure.members_export GET"            : "L 403 403 403 403 200 200 200 200",
    "structure.node GET"                      : "L 403 403 403 403 200/404/404 200/200/404 200/200/404 200",
    "structure.resident GET"                  : "L 403 403 403 403 200/200/404 200/200/404 200/200/404 200",
    "structure.resident_phone POST"           : "L 403 403 403 403 200/200/404 200/200/404 200/200/404 200",
    "structure.residents GET"                 : "L 403 403 403 403 200 200 200 200",
    "structure.residents_export GET"          : "L 403 403 403 403 200 200 200 200",
    "structure.stations GET"                  : "L 403 403 403 403 200 200 200 200",
    "structure.stations_export GET"           : "L 403 403 403 403 200 200 200 200",

    "training.cancel POST"                    : "L 403 403 403 404 404 303/303/404 303/303/404 303",
    "training.complete POST"                  : "L 403 303/422/404 303/422/404 403 403 403 403 403",
    "training.detail GET"                     : "L 403 403 403 404 404 200/200/404 200/200/404 200",
    # The world's sessions have started: the form sends the admin back to the session (303).
    "training.edit GET"                       : "L 403 403 403 404 404 303/303/404 303/303/404 303",
    "training.edit POST"                      : "L 403 403 403 404 404 303/303/404 303/303/404 303",
    "training.document GET"                   : "L 404 404 404 404 404 404 404 404",
    "training.export GET"                     : "L 403 403 403 404 404 200/200/404 200/200/404 200",
    "training.household GET"                  : "L 404 404 200/404/404 404 200/200/404 200/200/404 200/200/404 200",
    "training.index GET"                      : "L 403 403 403 200 200 200 200 200",
    "training.mark POST"                      : "L 403 403 403 404 404 403/422/404 403/422/404 403/422/403",
    "training.member_record GET"              : "L 404 200/404/404 200/200/404 404 200/200/404 200/200/404 200/200/404 200",
    "training.mine GET"                       : "L 403 200 200 403 403 403 403 403",
    "training.new GET"                        : "L 403 403 403 403 200 200 200 200",
    "training.participations GET"             : "L 403 403 403 200 200 200 200 200",
    "training.participations_export GET"      : "L 403 403 403 200 200 200 200 200",
    "training.new POST"                       : "L 403 403 403 403 422 422 422 422",
    "training.sessions_export GET"            : "L 403 403 403 200 200 200 200 200",
    "training.study GET"                      : "L 403 200/200/404 200/200/404 403 403 403 403 403",
    "training.unmark POST"                    : "L 403 403 403 404 404 403/303/404 403/303/404 403/303/403",

    "visits.coverage GET"                     : "L 403 403 403 403 200 200 200 200",
    "visits.household GET"                    : "L 404 404 200/404/404 404 200/200/404 200/200/404 200/200/404 200",
    "visits.index GET"                        : "L 403 200 200 403 403 403 403 403",
    "visits.policy GET"                       : "L 403 403 403 403 200 200 200 200",
    "visits.policy POST"                      : "L 403 403 403 403 422 422 422 422",
}


def _status(response) -> str:  # type: ignore[no-untyped-def]
    location = response.headers.get("Location", "") or response.headers.get("HX-Redirect", "")
    if response.status_code in (204, 302, 303) and "/login" in location:
        return "L"
    return str(response.status_code)


def _column(statuses: list[str]) -> str:
    return statuses[0] if len(set(statuses)) == 1 else "/".join(statuses)


def _observe(world, clients, writes, base, endpoint, method, rule, leaks):  # type: ignore[no-untyped-def]
    """One row: the column per role. A refused POST must leave the database as it was (its
    fingerprint is compared with the world's); whatever a request wrote is undone after it."""
    objects = OBJECTS if tw.int_params(rule) else (None,)
    row = []
    for role in ROLES:
        statuses = []
        for obj in objects:
            url = tw.fill(world, rule, obj, role)
            form = FORMS.get(endpoint) if method == "POST" else None
            data = form(world, obj) if callable(form) else form
            writes.reset()
            response = clients.for_role(role).open(url, method=method, data=data)
            status = _status(response)
            response.close()
            statuses.append(status)
            refused = status in REFUSED and (endpoint, method) not in REFUSAL_WRITES | LOGIN_IS_SUCCESS
            if method == "POST" and refused and tw.fingerprint() != base:
                leaks.append(f"{endpoint} {method} {url} as {role}: refused ({status}) but wrote "
                             f"{writes.seen}")
            if writes.seen:
                tw.restore(world.extra["snapshot"])
        row.append(_column(statuses))
    return row


@pytest.fixture
def world(app):  # type: ignore[no-untyped-def]
    world = tw.build()
    world.extra["snapshot"] = tw.snapshot()
    return world


def test_every_rule_for_every_role_and_object_answers_as_the_table_says(app, world):
    clients = tw.Clients(app, world)
    tw.restore(world.extra["snapshot"])  # logging in wrote the login times
    base = tw.fingerprint()
    writes = tw.Writes()
    missing, wrong, leaks, printed = [], [], [], []
    cells = 0
    for endpoint, method, rule in tw.routes(app):
        key = f"{endpoint} {method}"
        row = _observe(world, clients, writes, base, endpoint, method, rule, leaks)
        cells += len(ROLES) * (len(OBJECTS) if tw.int_params(rule) else 1)
        printed.append(f'    {key!r:42}: "{" ".join(row)}",')
        if key not in MATRIX:
            missing.append(key)
        elif MATRIX[key].split() != row:
            wrong.append(f"{key}: table says {MATRIX[key]!r}, the app answers {' '.join(row)!r}")
    if os.environ.get("MATRIX_PRINT"):
        with open(os.environ["MATRIX_PRINT"], "w") as f:
            f.write("\n".join(printed) + f"\n# cells: {cells}\n")
    assert not leaks, "refused requests that wrote to the database:\n" + "\n".join(leaks)
    assert not missing, (
        "URL rules without an entry in MATRIX (tests/test_authz_matrix.py) — add a row saying what "
        "each role may do:\n" + "\n".join(missing))
    assert not wrong, "\n".join(wrong)
    stale = set(MATRIX) - {f"{e} {m}" for e, m, _r in tw.routes(app)}
    assert not stale, f"rows for rules that no longer exist: {sorted(stale)}"


def test_an_insert_with_returning_counts_as_a_write(app):
    """SQLite's cursor counts no rows for a statement with RETURNING until they are fetched: such
    an insert (a row added inside a savepoint, as a campaign's candidate is) is still a write, so
    a refused request making one cannot pass unseen, and an allowed one is undone."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import OrgLevel, OrgNode

    writes = tw.Writes()
    try:
        db.session.execute(sa.insert(OrgNode).values(name="测试区", level=OrgLevel.DISTRICT, path="/t/")
                           .returning(OrgNode.id)).all()
        assert writes.seen and writes.seen[0].startswith("INSERT INTO org_nodes")
    finally:
        writes.close()
        db.session.rollback()
