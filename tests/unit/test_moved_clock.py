"""The moved-clock guard (tests/conftest.py): PREGEN_TEST_CLOCK names where the run's clock goes."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import moved_clock_destination

TODAY = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def test_days_ahead_are_counted_from_today() -> None:
    assert moved_clock_destination("+400d", TODAY) == dt.datetime(2027, 12, 29, 12, 0, tzinfo=dt.UTC)


def test_an_instant_is_taken_as_given_and_naive_means_utc() -> None:
    assert moved_clock_destination("2028-12-31T23:50:00Z", TODAY) == dt.datetime(2028, 12, 31, 23, 50, tzinfo=dt.UTC)
    assert moved_clock_destination("2028-02-29T23:00:00", TODAY) == dt.datetime(2028, 2, 29, 23, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("value", ["400d", "+d", "tomorrow", "2028-13-01"])
def test_anything_else_is_a_usage_error(value: str) -> None:
    with pytest.raises(pytest.UsageError, match="PREGEN_TEST_CLOCK"):
        moved_clock_destination(value, TODAY)
