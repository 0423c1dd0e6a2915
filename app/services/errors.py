"""The one domain error every service raises, in its two kinds.

``str(error)`` is the message for the user, in Chinese (a lazy string that follows the visitor's
language). The step runner in ``app/steps.py`` turns :class:`NotAllowed` into 403 and
:class:`Refused` into 422 with the page re-rendered around the message; either way nothing of the
step is kept.
"""

from __future__ import annotations


class DomainError(ValueError):
    """A user action the domain does not take."""

    status = 422

    def __init__(self, message: object) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


class Refused(DomainError):
    """The step is not possible here, now, or with this input (422 with the message)."""

    status = 422


class NotAllowed(DomainError):
    """The actor may not take this step at all (403)."""

    status = 403
