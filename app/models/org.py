"""The org tree: district → township/sub-district → village/community → grid."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import LabeledEnum, enum_column


class OrgLevel(LabeledEnum):
    DISTRICT = "district"
    TOWNSHIP = "township"
    COMMUNITY = "community"
    GRID = "grid"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.DISTRICT: _l("区"),
            cls.TOWNSHIP: _l("乡镇/街道"),
            cls.COMMUNITY: _l("村/社区"),
            cls.GRID: _l("网格"),
        }

    @property
    def depth(self) -> int:
        return list(OrgLevel).index(self)

    @property
    def child(self) -> OrgLevel | None:
        order = list(OrgLevel)
        return order[self.depth + 1] if self.depth + 1 < len(order) else None


class OrgNode(db.Model):
    """A node of the org tree. ``path`` is the chain of ids from the root, e.g. ``1/4/17/``, so that
    "this node and everything below it" is one indexed prefix query."""

    __tablename__ = "org_nodes"
    __table_args__ = (
        sa.CheckConstraint(
            "(level = 'district' AND parent_id IS NULL) OR (level <> 'district' AND parent_id IS NOT NULL)",
            name="root_is_district",
        ),
        sa.CheckConstraint("length(name) > 0", name="name_not_empty"),
        sa.UniqueConstraint("parent_id", "name", name="uq_org_nodes_parent_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    level: Mapped[OrgLevel] = mapped_column(enum_column(OrgLevel, "level"))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)
    path: Mapped[str] = mapped_column(sa.String(255), index=True, default="")

    parent: Mapped[OrgNode | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[OrgNode]] = relationship(
        back_populates="parent", order_by="OrgNode.id", lazy="raise_on_sql"
    )

    def __repr__(self) -> str:
        return f"<OrgNode {self.id} {self.level} {self.name}>"

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(p) for p in self.path.strip("/").split("/") if p]

    def contains(self, other: OrgNode) -> bool:
        """Whether ``other`` is this node or below it."""
        return other.path.startswith(self.path)

    @staticmethod
    def under(path: str) -> sa.ColumnElement[bool]:
        """SQL condition: the node's path starts with ``path`` (this node and its descendants)."""
        return OrgNode.path.startswith(path, autoescape=True)
