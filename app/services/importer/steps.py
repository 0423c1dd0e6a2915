"""The two steps of an import as the pages take them: check and preview, then confirm."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from app.models import User
from app.services.errors import Refused
from app.services.importer.plan import Plan
from app.services.importer.reading import parse
from app.services.importer.specs import SPECS, ImportFileError
from app.services.importer.store import load_records, store_records
from app.services.importer.validation import validate
from app.services.importer.writing import commit
from app.services.privacy import audit
from app.settings import setting


class RosterRejected(Refused):
    """A file whose rows do not pass the check: ``plan`` lists the errors, nothing is written."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(_("发现 %(n)d 处错误，未导入任何数据。请修改文件后重新上传。", n=plan.error_count))
        self.plan = plan


def too_big_message() -> str:
    """The refusal of a file past ``IMPORT_MAX_BYTES``, naming the limit."""
    limit = int(setting("IMPORT_MAX_BYTES")) / (1024 * 1024)  # type: ignore[call-overload]
    return _("文件太大：名册文件不能超过 %(mb)g MB。请删去多余的工作表或分成几个文件导入。", mb=limit)


@dataclass
class Preview:
    """A file that passed the check, stored under ``token`` until it is confirmed."""

    plan: Plan
    records: list[dict]
    token: str


def check_upload(user: User, kind: str, data: bytes, directory: str) -> Preview:
    """Check every row of an uploaded roster (reading only) and keep a clean one for the confirm
    step. ``data`` may be one byte past the limit: that is how a file too big is told."""
    if len(data) > int(setting("IMPORT_MAX_BYTES")):  # type: ignore[call-overload]
        raise ImportFileError(too_big_message())
    records = parse(kind, data)
    plan = validate(kind, records, user)
    if not plan.ok:
        raise RosterRejected(plan)
    return Preview(plan, records, store_records(directory, user.id, kind, records))


@dataclass
class Confirmation:
    """The confirm step of a previewed roster: checked again (the database may have changed since
    the preview), then written all or nothing and audited. ``plan`` keeps the check that stopped
    it, for the page that says why."""

    user: User
    kind: str
    token: str
    directory: str
    ip: str = ""
    plan: Plan | None = None

    def __call__(self) -> dict[str, int]:
        records = None
        if self.token and self.kind in SPECS:
            records = load_records(self.directory, self.token, self.user.id, self.kind)
        if records is None:
            raise ImportFileError(_("预览已过期或无效，请重新上传文件。"))
        plan = validate(self.kind, records, self.user)
        if not plan.ok:
            self.plan = plan
            raise RosterRejected(plan)
        counts = commit(plan, self.user)
        audit(self.user.id, "import", self.kind, None, detail=str(counts), ip=self.ip)
        return counts
