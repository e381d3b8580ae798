"""Injected faults: what the emulator does wrong on purpose, switchable at run time."""

import threading
from dataclasses import asdict, dataclass


@dataclass
class FaultSettings:
    latency_ms: int = 0  # added to every call
    throttle_next: int = 0  # answer the next N calls with 429
    retry_after: int = 1  # Retry-After seconds sent with those 429s
    error_next: int = 0  # answer the next N calls with error_status
    error_status: int = 500  # 500 or 503
    drop_next: int = 0  # close the connection without an answer for the next N calls


FIELDS = tuple(FaultSettings.__dataclass_fields__)


class Faults:
    """Thread-safe fault switches. ``take()`` consumes one armed fault for the current call."""

    def __init__(self):
        self._lock = threading.Lock()
        self._settings = FaultSettings()

    def configure(self, **changes):
        unknown = sorted(set(changes) - set(FIELDS))
        if unknown:
            raise ValueError(f"Unknown fault setting {unknown[0]!r}; known: {', '.join(FIELDS)}.")
        for name, value in changes.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Fault setting {name!r} must be a whole number >= 0.")
        if changes.get("error_status", 500) not in (500, 502, 503, 504):
            raise ValueError("error_status must be 500, 502, 503 or 504.")
        with self._lock:
            for name, value in changes.items():
                setattr(self._settings, name, value)
            return asdict(self._settings)

    def reset(self):
        with self._lock:
            self._settings = FaultSettings()

    def snapshot(self):
        with self._lock:
            return asdict(self._settings)

    def take(self):
        """Return (latency seconds, action) for one call; action is None, "drop", "throttle" or "error"."""
        with self._lock:
            current = self._settings
            latency = current.latency_ms / 1000
            for action, counter in (("drop", "drop_next"), ("throttle", "throttle_next"), ("error", "error_next")):
                if getattr(current, counter) > 0:
                    setattr(current, counter, getattr(current, counter) - 1)
                    return latency, action
            return latency, None
