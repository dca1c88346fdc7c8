"""The one clock (时钟) every part of the system reads.

Statutory deadlines are computed in Asia/Shanghai. Tests, trainers and the
simulator move a virtual clock; SpiffWorkflow's timer module reads the same
clock (the only place inside the library that asks for "now") once the runtime
has called `drive_spiffworkflow_timers`.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

SHANGHAI = ZoneInfo("Asia/Shanghai")


class SystemClock:
    virtual = False

    def now(self) -> datetime:
        return datetime.now(SHANGHAI)


class VirtualClock:
    """A clock that only moves when told to."""

    virtual = True

    def __init__(self, start: datetime | None = None):
        start = start or datetime.now(SHANGHAI)
        if start.tzinfo is None:
            raise ValueError("a virtual clock needs an aware start time")
        self._now = start.astimezone(SHANGHAI)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("give the time with its offset, e.g. +08:00")
        with self._lock:
            self._now = when.astimezone(SHANGHAI)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now = self._now + delta


_current: SystemClock | VirtualClock = SystemClock()
# A moment one calculation re-reads "now" as, in its own thread only (see `as_of`).
_as_of: ContextVar[datetime | None] = ContextVar("as_of", default=None)


def current() -> SystemClock | VirtualClock:
    return _current


def now() -> datetime:
    return _as_of.get() or _current.now()


@contextmanager
def as_of(moment: datetime):
    """Inside the block, this thread's "now" is `moment`: a date computed once (a due date from
    `today()`) is computed again as of then, when the calendar it was counted on is settled.
    Other threads, and the process's clock, are untouched."""
    if moment.tzinfo is None:
        raise ValueError("give the time with its offset, e.g. +08:00")
    token = _as_of.set(moment.astimezone(SHANGHAI))
    try:
        yield
    finally:
        _as_of.reset(token)


def install(clock: SystemClock | VirtualClock) -> None:
    """Make `clock` the process's clock, SpiffWorkflow's timers included."""
    global _current
    _current = clock


class _ClockedDatetime(datetime):
    """Stands in for `datetime` inside SpiffWorkflow's timer module, whose
    `datetime.now(timezone.utc)` is the library's only reading of the time."""

    @classmethod
    def now(cls, tz=None):
        moment = now()
        return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)


def drive_spiffworkflow_timers() -> None:
    """Make SpiffWorkflow's timers read this clock, and read a time written without
    an offset as Beijing time whatever the server's zone. The runtime calls it when
    it is made, before any case runs; calling it again changes nothing.

    It replaces two names in the library's timer module, because SpiffWorkflow 3.2
    offers no seam for a clock: the three timer event definitions call
    `datetime.now(timezone.utc)` inside `has_fired`, `cycle_complete` and the static
    `parse_iso_recurring_interval` / `get_timedelta_from_start`, and `get_datetime`
    (which the runtime and the settlement call too) reads the module's `LOCALTZ`.
    Subclassing them would mean copying those method bodies, overriding the timer
    parsing of every event parser, and registering the subclasses with the
    serializer under the library's type names so that stored cases still load,
    and would still not reach the static methods. So: a patch, made once, here."""
    spiff_timer.datetime = _ClockedDatetime
    spiff_timer.LOCALTZ = timezone(timedelta(hours=8))


__all__ = ["SHANGHAI", "SystemClock", "VirtualClock", "current", "now", "as_of", "install",
           "drive_spiffworkflow_timers", "timezone"]
