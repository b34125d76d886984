"""A repeat-contact cadence for companies that review every customer once a
quarter: the next contact is the first weekday of the quarter after the last
contact (or after today for an account never contacted)."""
from __future__ import annotations

from datetime import date, timedelta


class QuarterlyReview:
    name = "quarterly_review"

    def next_contact_on(self, account) -> date | None:
        if account.lifecycle == "former":
            return None
        anchor = account.last_contacted_on or account.today
        year, quarter_start_month = anchor.year, (anchor.month - 1) // 3 * 3 + 4
        if quarter_start_month > 12:
            year, quarter_start_month = year + 1, 1
        day = date(year, quarter_start_month, 1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return day
