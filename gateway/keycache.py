"""Recently authenticated API keys, so a busy client is not looked up in the
identity store on every request.

An entry lives ``ttl`` seconds (``GATEWAY_AUTH_CACHE_SECONDS``; 0 turns the
cache off). Any change made through this gateway process's identity
endpoints empties it at once; a key revoked or a user changed through
another gateway process takes effect here within ``ttl``.
"""
from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

from shared.caller import Caller


@dataclass(frozen=True)
class Entry:
    key_id: str
    caller: Caller        # without the request id
    expires: float


class KeyCache:
    def __init__(self, ttl: float, max_entries: int = 10000):
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[bytes, Entry] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _digest(key: str) -> bytes:
        return hashlib.sha256(key.encode()).digest()  # the key itself is never kept

    def get(self, key: str) -> Entry | None:
        if self.ttl <= 0:
            return None
        entry = self._entries.get(self._digest(key))
        if entry is None or entry.expires < time.monotonic():
            return None
        return entry

    def put(self, key: str, key_id: str, caller: Caller) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[self._digest(key)] = Entry(key_id, caller, time.monotonic() + self.ttl)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
