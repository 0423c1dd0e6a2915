"""Posts for members without office (无职党员设岗定责): the list of posts an admin keeps for
their node (add, edit, deactivate, delete while unused), the members holding posts (and those
without office who hold none), and giving or ending one member's post."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import policy
from app.authz import admin_required, get_or_404, require
from app.clock import local_today
from app.forms_choices import options
from app.mentoring import bp
from app.mentoring.forms import PostAssignForm, PostTypeAddForm, PostTypeEditForm
from app.models import Member, PostAssignment, PostType
from app.pages import paginate
from app.services import posts as svc
from app.steps import flash_back, run_step

LIST_PER_PAGE = 30


def _posts_page(form: PostTypeAddForm, status: int = 200, error: str | None = None):
    """The posts the admin sees, with the form to add one at their node."""
    posts = svc.post_list(current_user)
    return render_template("mentoring/posts.html", posts=posts, form=form, error=error,
                           used=svc.used_post_ids([p.id for p in posts]),
                           manage={p.id for p in posts if policy.can_manage_post_type(current_user, p)}), status


def _add_form() -> PostTypeAddForm:
    form = PostTypeAddForm()
    form.node_id.choices = options((n.id, n.name) for n in svc.admin_nodes_for_posts(current_user))
    return form


@bp.route("/posts", methods=["GET", "POST"])
@admin_required
def posts():
    """岗位设置: the posts of the admin's node, the nodes below and above it; add one."""
    form = _add_form()
    if request.method == "GET" or not form.validate_on_submit():
        return _posts_page(form, 200 if request.method == "GET" else 422)
    node = next(n for n in svc.admin_nodes_for_posts(current_user) if n.id == form.node_id.data)
    return run_step(lambda: svc.add_post_type(current_user, node, form.name.data, form.duty.data,
                                              form.activity_kind.data),
                    lambda error: _posts_page(form, 422, error), url_for("mentoring.posts"), _("岗位已添加。"))


def _manageable_post(post_id: int) -> PostType:
    """A post the admin sees (else 404) and may change (else 403: an ancestor node's post)."""
    post = get_or_404(PostType, post_id, policy.can_view_post_type)
    require(policy.can_manage_post_type(current_user, post))
    return post


@bp.route("/posts/<int:post_id>/edit", methods=["GET", "POST"])
@admin_required
def edit_post(post_id: int):
    """Change a post's name, duty or the kind of service that counts as its work."""
    post = _manageable_post(post_id)
    form = PostTypeEditForm(obj=post) if request.method == "GET" else PostTypeEditForm()
    if request.method == "GET":
        form.activity_kind.data = post.activity_kind.value if post.activity_kind else ""
    if request.method == "GET" or not form.validate_on_submit():
        return render_template("mentoring/post_edit.html", post=post, form=form), 200 if request.method == "GET" else 422
    return run_step(
        lambda: svc.edit_post_type(current_user, post, form.name.data, form.duty.data, form.activity_kind.data),
        lambda error: (render_template("mentoring/post_edit.html", post=post, form=form, error=error), 422),
        url_for("mentoring.posts"), _("岗位已修改。"))


@bp.post("/posts/<int:post_id>/active")
@admin_required
def post_active(post_id: int):
    """Deactivate a post (停用: no new holders) or put it back in use."""
    post = _manageable_post(post_id)
    active = request.form.get("active") == "1"
    back = url_for("mentoring.posts")
    return run_step(lambda: svc.set_post_active(current_user, post, active), flash_back(back), back,
                    _("岗位已启用。") if active else _("岗位已停用。"))


@bp.post("/posts/<int:post_id>/delete")
@admin_required
def delete_post(post_id: int):
    """Delete a post nobody ever held (a used one is only deactivated)."""
    post = _manageable_post(post_id)
    back = url_for("mentoring.posts")
    return run_step(lambda: svc.delete_post_type(current_user, post), flash_back(back), back, _("岗位已删除。"))


@bp.route("/posts/holders")
@admin_required
def holders():
    """在岗党员: current posts in the admin's scope with their work this year; or (``?unposted=1``)
    the members without office who hold no post yet."""
    if request.args.get("unposted") == "1":
        page = paginate(svc.unposted_query(current_user), per_page=LIST_PER_PAGE)
        return render_template("mentoring/holders.html", page=page, unposted=True, work={})
    page = paginate(svc.holders_query(current_user), per_page=LIST_PER_PAGE)
    return render_template("mentoring/holders.html", page=page, unposted=False,
                           work=svc.work_this_year(page.items, local_today()))


def _assign_page(member: Member, form: PostAssignForm, status: int = 200, error: str | None = None):
    """A member's post: the current one with its work, the past ones, and the form to give one."""
    return render_template("mentoring/member_post.html", member=member, form=form, error=error,
                           post_view=svc.member_post(member, local_today()), office=svc.office_of(member)), status


def _assign_form(member: Member) -> PostAssignForm:
    form = PostAssignForm() if request.method == "POST" else PostAssignForm(formdata=None)
    form.post_type_id.choices = options([(0, _("请选择"))] + [
        (p.id, f"{p.name}（{p.org_node.name}）") for p in svc.posts_for(member)])
    return form


@bp.route("/members/<int:member_id>/post", methods=["GET", "POST"])
@admin_required
def member_post(member_id: int):
    """设岗定责 for one member in scope: give a post with its duty (a current one ends)."""
    member = get_or_404(Member, member_id, policy.member_in_scope)
    form = _assign_form(member)
    if request.method == "GET" or not form.validate_on_submit():
        return _assign_page(member, form, 200 if request.method == "GET" else 422)
    return run_step(lambda: svc.assign_post_by_id(current_user, member, form.post_type_id.data, form.duty.data),
                    lambda error: _assign_page(member, form, 422, error),
                    url_for("mentoring.member_post", member_id=member.id), _("已设岗。"))


@bp.post("/assignments/<int:assignment_id>/end")
@admin_required
def end_post(assignment_id: int):
    """End a member's post (it stays in their history)."""
    assignment = get_or_404(PostAssignment, assignment_id, policy.can_view_post_assignment)
    require(policy.member_in_scope(current_user, assignment.member))
    back = url_for("mentoring.member_post", member_id=assignment.member_id)
    return run_step(lambda: svc.end_post(current_user, assignment), flash_back(back), back, _("岗位已结束。"))
