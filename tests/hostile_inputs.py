"""A corpus of hostile requests and the answer each must get: a 4xx RFC 9457
problem that changes nothing, never a server error.

Plain data, to run against any suite (SQLite or PostgreSQL behind it):
``gateway/tests/test_input_limits.py`` sends the ``edge`` ones (refused before
any RPC) to a gateway without services, ``tests/test_e2e_hostile.py`` sends all
of them through the running suite. Send each as the admin with
``Content-Type: application/json`` unless the entry says otherwise; ``body``
is sent as is when it is bytes, as JSON otherwise.
"""
from __future__ import annotations

from typing import Any, NamedTuple


class Hostile(NamedTuple):
    method: str
    path: str
    body: Any = None                   # bytes: sent as is; anything else: as JSON
    query: dict | None = None
    statuses: tuple[int, int] = (400, 499)   # the status must lie in this range, inclusive
    what: str = ""
    edge: bool = True                  # refused by the gateway before any service is called
    headers: dict | None = None
    content_type: str = "application/json"


BIG = 10**30
LINE = {"description": "x", "quantity": "1", "unit_price": "1.00"}

CORPUS: list[Hostile] = [
    # body size, shape and encoding
    Hostile("POST", "/api/v1/leads", b'{"company": "' + b"x" * (2 * 1024 * 1024) + b'"}', statuses=(413, 413),
            what="a JSON body over the 1 MB cap"),
    Hostile("POST", "/api/v1/leads", b"[" * 10_000 + b"]" * 10_000, statuses=(400, 400),
            what="JSON nested 10,000 levels"),
    Hostile("POST", "/api/v1/leads", b'{"company": ' + b'{"a": ' * 40 + b"1" + b"}" * 40 + b"}",
            statuses=(400, 400), what="JSON nested 41 levels"),
    Hostile("POST", "/api/v1/leads", b'{"company": "\\ud800"}', statuses=(422, 422),
            what="a lone surrogate in a string"),
    Hostile("POST", "/api/v1/leads", b'{"company": "a\\u0000b"}', statuses=(422, 422),
            what="a NUL character in a string"),
    Hostile("POST", "/api/v1/leads", b'{"company": "\xed\xa0\x80"}', statuses=(400, 400),
            what="a surrogate encoded in the UTF-8 bytes themselves"),
    Hostile("POST", "/api/v1/leads", b'{"company": "x", "estimated_value": NaN, "currency": "EUR"}',
            statuses=(400, 400), what="the NaN literal, which is not JSON"),
    Hostile("POST", "/api/v1/leads", b'{"company": "x", "score": ' + b"9" * 5000 + b"}", statuses=(400, 400),
            what="an integer of 5,000 digits"),
    Hostile("POST", "/api/v1/leads", b"company=x", statuses=(415, 415), content_type="text/plain",
            what="a body that is not JSON on a JSON route"),
    Hostile("GET", "/api/v1/me", headers={"X-Padding": "x" * 20_000}, statuses=(431, 431),
            what="request headers over 16 KB"),
    # strings, lists and dicts
    Hostile("POST", "/api/v1/leads", {"company": 123}, statuses=(422, 422), what="a number for a string"),
    Hostile("POST", "/api/v1/leads", {"company": "x" * 201}, statuses=(422, 422), what="a string over its length"),
    Hostile("POST", "/api/v1/leads", {"company": "x", "tags": ["t"] * 101}, statuses=(422, 422),
            what="more tags than a lead may have"),
    Hostile("POST", "/api/v1/teams", {"name": "x" * 10_000}, statuses=(422, 422),
            what="a gateway string over its length"),
    Hostile("POST", "/api/v1/users", {"name": "x", "role": "rep", "segments": ["s"] * 1000}, statuses=(422, 422),
            what="a gateway list over its length"),
    Hostile("POST", "/api/v1/selections/search", {"criteria": {"tags": ["t"] * 1000}}, statuses=(422, 422),
            what="a selection criterion list over its length"),
    # numbers
    Hostile("GET", "/api/v1/leads", query={"offset": str(BIG)}, statuses=(422, 422), what="a huge offset"),
    Hostile("GET", "/api/v1/leads", query={"min_score": str(BIG)}, statuses=(422, 422), what="a huge min_score"),
    Hostile("GET", "/api/v1/leads", query={"limit": str(BIG)}, statuses=(422, 422), what="a huge limit"),
    Hostile("GET", "/api/v1/accounts", query={"offset": "1000001"}, statuses=(422, 422),
            what="an offset past the paging cap"),
    Hostile("POST", "/api/v1/assignment-rules", {"name": "x", "strategy": "round_robin", "priority": BIG},
            statuses=(422, 422), what="a huge priority"),
    Hostile("POST", "/api/v1/leads", {"company": "x", "estimated_value": "NaN", "currency": "EUR"},
            statuses=(422, 422), what="NaN as a money string"),
    Hostile("POST", "/api/v1/leads", {"company": "x", "estimated_value": 1e20, "currency": "EUR"},
            statuses=(422, 422), what="1e20 as money"),
    Hostile("POST", "/api/v1/leads", {"company": "x", "estimated_value": 12.5, "currency": "EUR"},
            statuses=(422, 422), what="money as a JSON number, not a decimal string"),
    Hostile("POST", "/api/v1/leads", {"company": "x", "estimated_value": "10.005", "currency": "EUR"},
            statuses=(422, 422), what="money with three decimal places"),
    Hostile("POST", "/api/v1/opportunities", {"name": "x", "account_id": "a", "lines": [{**LINE, "quantity": 1e20}]},
            statuses=(422, 422), what="a quantity of 1e20"),
    # dates
    Hostile("POST", "/api/v1/contracts", {"account_id": "a", "currency": "EUR", "lines": [LINE],
                                          "start_date": "2026-01-01", "end_date": "9999-12-31",
                                          "billing_frequency": "monthly"},
            statuses=(422, 422), what="a monthly contract ending in 9999"),
    Hostile("PATCH", "/api/v1/contracts/any", {"version": 1, "end_date": "9999-12-31"}, statuses=(422, 422),
            what="a contract moved to end in 9999"),
    Hostile("PATCH", "/api/v1/contracts/any", {"version": 1, "start_date": "0001-01-01"}, statuses=(422, 422),
            what="a contract moved to start in year 1"),
    Hostile("POST", "/api/v1/targets", {"period": "quarter", "period_start": "9999-10-01", "currency": "EUR",
                                        "lines": [{"label": "x", "revenue": "1.00"}]},
            statuses=(422, 422), what="a target period in 9999"),
    Hostile("POST", "/api/v1/activities", {"lead_id": "x", "type": "call", "due_at": "9999-12-31T23:59:00+00:00"},
            statuses=(422, 422), what="an activity due in 9999"),
    Hostile("POST", "/api/v1/activities", {"lead_id": "x", "type": "call", "due_at": "2999-12-31T23:00:00-05:00"},
            statuses=(422, 422), what="an activity whose offset carries it into 3000 UTC"),
    Hostile("POST", "/api/v1/activities/plan", {"lead_ids": ["x"], "first_day": "0001-01-01",
                                                "last_day": "9999-12-31"},
            statuses=(422, 422), what="a call plan from year 1 to 9999"),
    Hostile("POST", "/api/v1/activities/plan", {"lead_ids": ["x"] * 1001, "first_day": "2026-01-05",
                                                "last_day": "2026-01-06"},
            statuses=(422, 422), what="a call plan of more leads than the cap"),
    # refused by the service's own rules
    Hostile("POST", "/api/v1/activities/plan", {"lead_ids": ["x"], "first_day": "2026-01-01",
                                                "last_day": "2026-12-31"},
            statuses=(422, 422), edge=False, what="a call plan of a whole year"),
]
