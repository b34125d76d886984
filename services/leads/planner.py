"""The batch call planner: calls for a set of leads spread evenly over reps and days."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.bounds import check_dates
from shared.errors import Invalid

MAX_PLAN_DAYS = 92      # a quarter: a longer plan is no plan, and costs memory per day
MAX_PLAN_LEADS = 1000
MAX_PLAN_OWNERS = 100


@dataclass(frozen=True)
class PlannedCall:
    lead_id: str
    owner_id: str
    due_at: datetime
    duration_minutes: int


def time_zone(name: str) -> tzinfo:
    """The IANA time zone ``name`` (``Europe/Warsaw``), or Invalid naming ``time_zone``."""
    try:
        if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Invalid("unknown time zone", errors={
            "time_zone": "an IANA time zone name such as Europe/Warsaw or UTC"}) from None


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


def check_plan_size(leads: int, owners: int, first_day: date, last_day: date) -> None:
    """Refuse a plan too large to make, before anything is loaded for it."""
    check_dates(first_day=first_day, last_day=last_day)
    errors = {}
    if (last_day - first_day).days + 1 > MAX_PLAN_DAYS:
        errors["last_day"] = f"a plan spans at most {MAX_PLAN_DAYS} days"
    if leads > MAX_PLAN_LEADS:
        errors["lead_ids"] = f"at most {MAX_PLAN_LEADS} leads per plan"
    if owners > MAX_PLAN_OWNERS:
        errors["owner_ids"] = f"at most {MAX_PLAN_OWNERS} reps per plan"
    if errors:
        raise Invalid("the call plan is too large", errors=errors)


def plan_calls(lead_ids: Sequence[str], owner_ids: Sequence[str], first_day: date, last_day: date,
               day_start: time, day_end: time, duration_minutes: int, tz: tzinfo = timezone.utc,
               skip_weekends: bool = True) -> list[PlannedCall]:
    """Leads dealt round-robin to the reps (counts differ by at most one), each
    rep's calls spread over the working days (per-day counts differ by at most
    one) at evenly spaced slots between ``day_start`` and ``day_end``, read as
    wall-clock times in ``tz`` (the rep's zone: 09:00 in Warsaw is 08:00 UTC in
    winter and 07:00 in summer); the due times are UTC instants. When more
    calls fall on a day than fit end to end, the slots are still evenly spaced
    and so overlap; the planner never moves a call to another day. A plan spans
    at most ``MAX_PLAN_DAYS`` days, ``MAX_PLAN_LEADS`` leads and ``MAX_PLAN_OWNERS`` reps."""
    check_plan_size(len(lead_ids), len(owner_ids), first_day, last_day)
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
