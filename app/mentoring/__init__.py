"""帮带与设岗: mentors' guidance contacts with their households (我的帮带, each household's history,
the admins' list of mentors and its ledger), and posts for members without office (the list of
posts per node, giving and ending a member's post). ``views`` holds mentoring, ``posts`` the posts;
importing ``views`` registers both on the blueprint."""

from flask import Blueprint

bp = Blueprint("mentoring", __name__, url_prefix="/mentoring")
