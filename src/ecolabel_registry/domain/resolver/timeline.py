"""Dates for the resolver: optional-date arithmetic and status histories as timelines."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Sequence
from enum import StrEnum
from typing import Generic, TypeVar

from ecolabel_registry.domain.model import StatusRecord, status_on


def day_before(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=1)


def day_after(day: dt.date) -> dt.date | None:
    return None if day == dt.date.max else day + dt.timedelta(days=1)


def earliest(*days: dt.date | None) -> dt.date | None:
    """The earliest of some optional dates; None (nothing known) when all are None."""
    first = None
    for day in days:
        if day is not None and (first is None or day < first):
            first = day
    return first


def window_change_day(valid_from: dt.date, valid_to: dt.date | None, on: dt.date) -> dt.date | None:
    """The first day after `on` on which being inside the window changes."""
    if on < valid_from:
        return valid_from
    if valid_to is not None and on <= valid_to:
        return day_after(valid_to)
    return None


_E = TypeVar("_E", bound=StrEnum)


class Timeline(Generic[_E]):
    """A status history compressed to the days on which the status actually changes."""

    __slots__ = ("_dates", "_initial", "_states")

    def __init__(self, events: Sequence[StatusRecord], kind: type[_E], initial: _E) -> None:
        dates: list[dt.date] = []
        states: list[_E] = []
        current = initial
        for day in sorted({event.effective_date for event in events}) if events else ():
            state = status_on(events, day, kind)
            if state is not None and state != current:
                dates.append(day)
                states.append(state)
                current = state
        self._dates = tuple(dates)
        self._states = tuple(states)
        self._initial = initial

    @property
    def changes(self) -> tuple[dt.date, ...]:
        return self._dates

    def at(self, on: dt.date) -> _E:
        i = bisect_right(self._dates, on)
        return self._initial if i == 0 else self._states[i - 1]

    def since(self, on: dt.date) -> dt.date | None:
        i = bisect_right(self._dates, on)
        return None if i == 0 else self._dates[i - 1]

    def next_change(self, on: dt.date) -> dt.date | None:
        i = bisect_right(self._dates, on)
        return self._dates[i] if i < len(self._dates) else None


def next_day_in(days: Sequence[dt.date], on: dt.date) -> dt.date | None:
    i = bisect_right(days, on)
    return days[i] if i < len(days) else None
