"""A rep's activities as an iCalendar (RFC 5545) feed a phone calendar can subscribe to."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Iterable, Mapping

from icalendar import Calendar, Event

from shared.bounds import in_range

log = logging.getLogger(__name__)


def _summary(activity: Mapping) -> str:
    label = activity.get("subject") or activity.get("lead_company") or "lead"
    return f"{activity['type'].capitalize()}: {label}"


def _span(activity: Mapping) -> tuple[datetime, datetime] | None:
    """Start and end of the activity's event, or None when they cannot be shown
    (a value stored before dates were bounded, e.g. due in 9999: its end overflows)."""
    start = activity["due_at"]
    try:
        end = start + timedelta(minutes=activity.get("duration_minutes") or 30)
    except OverflowError:
        return None
    return (start, end) if in_range(start) and in_range(end) else None


def render_calendar(owner_name: str, activities: Iterable[Mapping]) -> bytes:
    """The feed; an activity whose times are out of range is left out (and logged),
    so that one bad row does not break the whole feed."""
    calendar = Calendar()
    calendar.add("prodid", "-//CRM Suite//Leads//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{owner_name} – CRM activities")
    for activity in activities:
        span = _span(activity)
        if span is None:
            log.warning("activity %s is left out of the calendar feed: due %s is out of range",
                        activity["id"], activity["due_at"])
            continue
        event = Event()
        event.add("uid", f"{activity['id']}@crm-leads")
        event.add("summary", _summary(activity))
        event.add("dtstart", span[0])
        event.add("dtend", span[1])
        event.add("dtstamp", activity["updated_at"])
        event.add("last-modified", activity["updated_at"])
        description = [f"Company: {activity['lead_company']}"] if activity.get("lead_company") else []
        if activity.get("outcome"):
            description.append(f"Outcome: {activity['outcome']}")
        if activity.get("notes"):
            description.append(activity["notes"])
        if description:
            event.add("description", "\n".join(description))
        calendar.add_component(event)
    return calendar.to_ical()
