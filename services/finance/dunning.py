"""Dunning: how far an unpaid invoice is overdue, and which reminder letters are due.

Levels count thresholds of days overdue. With the default (7, 14, 30), an
invoice 0 to 6 days past its due date is at level 0, 7 to 13 at level 1, 14 to
29 at level 2, 30 or more at level 3. A level is reminded once, and never
after a higher one: a reminder at level 2 covers level 1. Only an issued or
partially paid invoice with something open is dunned; a draft, paid or void
invoice gets no reminder.

Plain Python: no nameko, no database, no I/O.
"""
from __future__ import annotations

from datetime import date
from typing import Iterable, Sequence

from services.finance.domain import OPEN_STATUSES, OpenInvoice
from shared.errors import Invalid

DEFAULT_LEVEL_DAYS = (7, 14, 30)


def check_level_days(level_days: Sequence[int]) -> None:
    """Invalid unless the thresholds are whole days above 0, each later than the one before."""
    whole = all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in level_days)
    if not level_days or not whole or any(a >= b for a, b in zip(level_days, level_days[1:])):
        raise Invalid("dunning levels are whole days above 0, rising",
                      errors={"level_days": "rising whole days above 0, such as 7, 14, 30"})


def dunning_level(days_overdue: int, level_days: Sequence[int] = DEFAULT_LEVEL_DAYS) -> int:
    """0 before the first threshold, else how many thresholds ``days_overdue`` has reached (up to len(level_days))."""
    check_level_days(level_days)
    return sum(1 for threshold in level_days if days_overdue >= threshold)


def due_reminders(invoice: OpenInvoice, as_of: date, levels_sent: Iterable[int] = (),
                  level_days: Sequence[int] = DEFAULT_LEVEL_DAYS) -> tuple[int, ...]:
    """The reminder levels due for ``invoice`` on ``as_of``, lowest first: every level
    it has reached above the highest one already sent. Usually none or one; a dunning
    run that fell behind may find several, and the last is the one that tells the
    customer where they stand. Empty for an invoice that is not dunned (see above)."""
    if invoice.status not in OPEN_STATUSES or invoice.open_amount <= 0:
        return ()
    reached = dunning_level(invoice.days_overdue(as_of), level_days)
    highest_sent = max(levels_sent, default=0)
    return tuple(range(highest_sent + 1, reached + 1))
