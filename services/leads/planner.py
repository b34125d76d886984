"""The batch call planner: calls for a set of leads spread evenly over reps and days."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Sequence

from shared.errors import Invalid


@dataclass(frozen=True)
class PlannedCall:
    lead_id: str
    owner_id: str
    due_at: datetime
    duration_minutes: int


def working_days(first: date, last: date, skip_weekends: bool) -> list[date]:
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return [d for d in days if not (skip_weekends and d.weekday() >= 5)]


def _split_evenly(items: Sequence, parts: int) -> list[list]:
    """``parts`` consecutive groups whose sizes differ by at most one."""
    size, extra = divmod(len(items), parts)
    groups, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        groups.append(list(items[start:end]))
        start = end
    return groups


def plan_calls(lead_ids: Sequence[str], owner_ids: Sequence[str], first_day: date, last_day: date,
               day_start: time, day_end: time, duration_minutes: int, tz: tzinfo = timezone.utc,
               skip_weekends: bool = True) -> list[PlannedCall]:
    """Leads dealt round-robin to the reps (counts differ by at most one), each
    rep's calls spread over the working days (per-day counts differ by at most
    one) at evenly spaced slots between ``day_start`` and ``day_end``. When more
    calls fall on a day than fit end to end, the slots are still evenly spaced
    and so overlap; the planner never moves a call to another day."""
    errors = {}
    if first_day > last_day:
        errors["last_day"] = "must not be before first_day"
    if day_start >= day_end:
        errors["day_end"] = "must be after day_start"
    if not owner_ids:
        errors["owner_ids"] = "at least one rep"
    if not 1 <= duration_minutes <= 480:
        errors["duration_minutes"] = "between 1 and 480"
    days = working_days(first_day, last_day, skip_weekends) if "last_day" not in errors else []
    if not errors and not days:
        errors["first_day"] = "the range has no working day"
    if errors:
        raise Invalid("the call plan is not possible", errors=errors)

    window = (datetime.combine(first_day, day_end) - datetime.combine(first_day, day_start))
    plan: list[PlannedCall] = []
    per_owner: dict[str, list[str]] = {owner: [] for owner in owner_ids}
    for index, lead_id in enumerate(lead_ids):
        per_owner[owner_ids[index % len(owner_ids)]].append(lead_id)
    for owner, leads in per_owner.items():
        for day, todays in zip(days, _split_evenly(leads, len(days))):
            if not todays:
                continue
            step = window / len(todays)
            start = datetime.combine(day, day_start, tzinfo=tz)
            for slot, lead_id in enumerate(todays):
                due = (start + step * slot).astimezone(timezone.utc).replace(microsecond=0)
                plan.append(PlannedCall(lead_id, owner, due, duration_minutes))
    return plan
