"""Business rules of leads: statuses, dedupe keys, money, pool, conversion, merge.

Plain Python: no nameko, no database, no I/O, so the rules are unit-tested
alone. Scoring, assignment and call planning live beside this module
(``scoring.py``, ``assignment.py``, ``planner.py``) and are re-exported here.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, Mapping

import phonenumbers

from services.leads.assignment import AssignmentFacts, AssignmentStrategy, Rep  # noqa: F401
from services.leads.planner import PlannedCall, check_plan_size, plan_calls, time_zone  # noqa: F401
from services.leads.scoring import LeadFacts, RuleBasedScore, ScoringRule  # noqa: F401
from shared.errors import Conflict, Invalid


class LeadStatus(str, Enum):
    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    CONVERTED = "converted"
    DISQUALIFIED = "disqualified"


OPEN_STATUSES = (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED)
STATUS_ALIASES = {"prospect": LeadStatus.NEW}

TRANSITIONS: dict[LeadStatus, tuple[LeadStatus, ...]] = {
    LeadStatus.NEW: (LeadStatus.CONTACTED, LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED),
    LeadStatus.CONTACTED: (LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED),
    LeadStatus.QUALIFIED: (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED),
    LeadStatus.DISQUALIFIED: (LeadStatus.NEW,),
    LeadStatus.CONVERTED: (),
}


class LeadSource(str, Enum):
    WEB_FORM = "web_form"
    PARTNER = "partner"
    IMPORT = "import"
    EVENT = "event"
    REFERRAL = "referral"
    RENTED_LIST = "rented_list"
    MANAGEMENT = "management"
    ANALYST = "analyst"
    EXISTING_CUSTOMER = "existing_customer"
    OTHER = "other"


ACTIVITY_TYPES = ("call", "meeting", "email", "task")


def parse_status(value: str) -> LeadStatus:
    """The status named by ``value``; "prospect" is accepted for new."""
    key = (value or "").strip().lower()
    if key in STATUS_ALIASES:
        return STATUS_ALIASES[key]
    try:
        return LeadStatus(key)
    except ValueError:
        names = ", ".join([s.value for s in LeadStatus] + list(STATUS_ALIASES))
        raise Invalid(f"unknown status {value!r}", errors={"status": f"one of {names}"}) from None


def allowed_transitions(current: LeadStatus) -> list[LeadStatus]:
    return list(TRANSITIONS[current])


def check_transition(current: LeadStatus, target: LeadStatus) -> None:
    """Raise Conflict naming the allowed moves unless ``current -> target`` is one."""
    allowed = TRANSITIONS[current]
    if target not in allowed:
        names = ", ".join(s.value for s in allowed) or "none (a converted lead is read-only)"
        raise Conflict(f"a {current.value} lead cannot become {target.value}; allowed: {names}",
                       extra={"allowed": [s.value for s in allowed]})


def check_editable(status: LeadStatus) -> None:
    if status is LeadStatus.CONVERTED:
        raise Conflict("a converted lead is read-only", extra={"allowed": []})


def check_disqualify_reason(reason: str | None) -> None:
    if not reason or not reason.strip():
        raise Invalid("a reason is required to disqualify a lead", errors={"reason": "required"})


def check_convertible(status: LeadStatus) -> None:
    if status is not LeadStatus.QUALIFIED:
        raise Conflict(f"only a qualified lead can be converted; this one is {status.value}",
                       extra={"allowed": [s.value for s in TRANSITIONS[status]]})


# Dedupe ---------------------------------------------------------------------

LEGAL_FORMS = {
    "inc", "incorporated", "ltd", "limited", "llc", "gmbh", "ag", "sa", "spzoo", "sp z o o",
    "co", "corp", "corporation", "plc", "bv", "nv", "srl", "oy", "ab", "as", "kg", "sarl",
    "spa", "sas", "lp", "llp", "company",
}
_PUNCTUATION = re.compile(r"[^\w\s]", re.UNICODE)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class DedupeKeys:
    email: str | None
    phone: str | None
    company: str | None


def _strip_invisible(text: str) -> str:
    """Without format characters (Unicode category Cf): zero-width space, joiner
    and non-joiner, word joiner, the BOM, the soft hyphen, direction marks. They
    show as nothing, so "Ac\u200bme" must be "Acme" to a person and to dedupe."""
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def normalise_email(value: str | None) -> str | None:
    value = _strip_invisible(value or "").strip().lower()
    return value or None


def normalise_phone(value: str | None, region: str | None = None) -> str | None:
    """The number in E.164 ("+48225550102") when it is a valid number, written
    internationally or nationally for ``region`` (ISO 3166 code, e.g. "PL"), so
    "(22) 555 01 02" and "+48 22 555 01 02" are one number. Anything else: its
    digits, with "+" when written internationally ("00" counts as "+")."""
    raw = _strip_invisible(value or "").strip()
    try:
        number = phonenumbers.parse(raw, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    digits = re.sub(r"\D", "", raw)
    international = raw.startswith("+") or digits.startswith("00")
    if digits.startswith("00"):
        digits = digits[2:]
    if len(digits) < 6:
        return None
    return ("+" if international else "") + digits


def _strip_accents(text: str) -> str:
    """Without accents and without invisible format characters (see _strip_invisible)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c) and unicodedata.category(c) != "Cf")


def normalise_company(value: str | None) -> str | None:
    """Case, accents, punctuation and trailing legal forms ("Sp. z o.o.", "Inc.") removed."""
    # Compatibility forms first ("𝘈" is "A"), then case; case folding can add
    # combining marks ("İ" folds to "i" plus a dot), so strip once more.
    text = _strip_accents(_strip_accents(value or "").casefold())
    text = _SPACES.sub(" ", _PUNCTUATION.sub(" ", text)).strip()
    words = text.split(" ") if text else []
    changed = True
    while changed and len(words) > 1:
        changed = False
        for size in (4, 3, 2, 1):
            if len(words) > size and " ".join(words[-size:]) in LEGAL_FORMS | {"sp z o o"}:
                words = words[:-size]
                changed = True
                break
    text = " ".join(words)
    return text or None


def dedupe_keys(email: str | None, phone: str | None, company: str | None,
                phone_region: str | None = None) -> DedupeKeys:
    """The keys a duplicate shares; ``phone_region`` reads national phone numbers."""
    return DedupeKeys(normalise_email(email), normalise_phone(phone, phone_region), normalise_company(company))


def matching_fields(a: DedupeKeys, b: DedupeKeys) -> list[str]:
    """Names of the keys both have and share; any one makes a duplicate."""
    return [name for name in ("email", "phone", "company")
            if getattr(a, name) is not None and getattr(a, name) == getattr(b, name)]


# Money ----------------------------------------------------------------------

_CURRENCY = re.compile(r"^[A-Z]{3}$")


def parse_money(amount: Any, currency: str | None, field: str = "estimated_value") -> tuple[Decimal, str]:
    """A non-negative Decimal with at most 2 places and an ISO 4217 code. Never float."""
    if isinstance(amount, float):
        raise Invalid("amounts are decimal strings, not floats", errors={field: "send a string such as \"12.50\""})
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        raise Invalid(f"{amount!r} is not an amount", errors={field: "not a number"}) from None
    if not value.is_finite() or value < 0:
        raise Invalid("amounts cannot be negative", errors={field: "must be zero or more"})
    if value.as_tuple().exponent < -2:
        raise Invalid("at most 2 decimal places", errors={field: "at most 2 decimal places"})
    code = (currency or "").strip().upper()
    if not _CURRENCY.match(code):
        raise Invalid("an ISO 4217 currency code is required with an amount",
                      errors={"currency": "three letters such as EUR"})
    return value, code


# Pool -----------------------------------------------------------------------

def check_claim(open_leads: int, cap: int) -> None:
    if open_leads >= cap:
        raise Conflict(f"you hold {open_leads} open leads; the cap of {cap} open leads is reached",
                       extra={"cap": cap})


def is_stale(last_touched_at: datetime | None, now: datetime, days: int) -> bool:
    return last_touched_at is not None and now - last_touched_at >= timedelta(days=days)


# Activities -----------------------------------------------------------------

def needs_outcome(due_at: datetime, outcome: str | None, now: datetime) -> bool:
    return due_at < now and not outcome


def check_outcome(outcome: str | None) -> None:
    if not outcome or not outcome.strip():
        raise Invalid("an outcome is required", errors={"outcome": "required"})
    if len(outcome) > 2000:
        raise Invalid("an outcome is at most 2000 characters", errors={"outcome": "too long"})


# Conversion and merge ---------------------------------------------------------

CONVERSION_FIELDS = ("lead_id", "company", "contact_name", "email", "phone", "address", "territory",
                     "source", "channel", "campaign", "partner_id", "segment", "industry",
                     "estimated_value", "currency", "owner_id", "team_id", "tags", "interests", "notes")


def conversion_payload(lead: Mapping[str, Any]) -> dict[str, Any]:
    """Everything sales needs to open an account, a contact and an opportunity."""
    payload = {name: lead.get(name) for name in CONVERSION_FIELDS}
    if payload["estimated_value"] is not None:
        payload["estimated_value"] = str(payload["estimated_value"])
    payload["tags"] = list(payload["tags"] or [])
    payload["interests"] = list(payload["interests"] or [])
    return payload


def check_mergeable(source_status: str, target_status: str, source_id: str, target_id: str) -> None:
    if source_id == target_id:
        raise Conflict("a lead cannot be merged into itself")
    for status in (source_status, target_status):
        if parse_status(status) is LeadStatus.CONVERTED:
            raise Conflict("a converted lead cannot be merged")


def merge_fields(target: Mapping[str, Any], source: Mapping[str, Any]) -> dict[str, Any]:
    """Updates for the target: its empty fields filled from the source, tags and
    interests united, notes of both kept."""
    updates: dict[str, Any] = {}
    for name, value in source.items():
        if name in ("tags", "interests", "notes"):
            continue
        if target.get(name) in (None, "") and value not in (None, ""):
            updates[name] = value
    for name in ("tags", "interests"):
        union = sorted(set(target.get(name) or []) | set(source.get(name) or []))
        if union != list(target.get(name) or []):
            updates[name] = union
    if source.get("notes"):
        updates["notes"] = (f"{target['notes']}\n---\n{source['notes']}" if target.get("notes")
                            else source["notes"])
    return updates

