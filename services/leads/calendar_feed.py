"""A rep's activities as an iCalendar (RFC 5545) feed a phone calendar can subscribe to."""
from __future__ import annotations

from datetime import timedelta
from typing import Iterable, Mapping

from icalendar import Calendar, Event


def _summary(activity: Mapping) -> str:
    label = activity.get("subject") or activity.get("lead_company") or "lead"
    return f"{activity['type'].capitalize()}: {label}"


def render_calendar(owner_name: str, activities: Iterable[Mapping]) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//CRM Suite//Leads//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{owner_name} – CRM activities")
    for activity in activities:
        event = Event()
        event.add("uid", f"{activity['id']}@crm-leads")
        event.add("summary", _summary(activity))
        event.add("dtstart", activity["due_at"])
        event.add("dtend", activity["due_at"] + timedelta(minutes=activity.get("duration_minutes") or 30))
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
