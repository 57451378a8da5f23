"""A learner's exam record and the hour buckets that make the inventory's analytics exact."""

from __future__ import annotations

import datetime as dt

from pregen.domain import exam_stats
from pregen.domain.exam_stats import LearnerExams, bucket, ready_expiry

NOW = dt.datetime(2027, 3, 31, 22, 30, tzinfo=dt.UTC).timestamp()
HOUR = 3600


def test_a_ready_expiry_is_a_whole_hour_at_least_the_ttl_away() -> None:
    expiry = ready_expiry(NOW, 7)
    assert expiry % HOUR == 0
    assert 0 <= expiry - (NOW + 7 * 86_400) < HOUR
    assert bucket(expiry) == ("2027-04-07", "23")


def test_publishing_claiming_and_expiry_move_the_learner_and_the_exams_between_buckets() -> None:
    first, second = ready_expiry(NOW, 7), ready_expiry(NOW + 5 * HOUR, 7)
    # A first exam: counted generated, in its expiry bucket, and the learner (new) in the same hour's bucket
    change = exam_stats.published(LearnerExams(), "a", first, NOW)
    assert change.gauges == {"exams_generated": 1, "users_total": 1}
    assert change.day_counts() == {"2027-04-07": {"exam_expiring#23": 1, "learners_ready_until#23": 1}}
    record = change.record
    assert (record.version, record.until, record.ready_now(NOW)) == (1, first, 1)
    # A second, later: the learner moves to its hour; not a new user
    change = exam_stats.published(record, "b", second, NOW + 5 * HOUR)
    assert change.gauges == {"exams_generated": 1}
    assert change.day_counts() == {
        "2027-04-07": {"learners_ready_until#23": -1},
        "2027-04-08": {"exam_expiring#04": 1, "learners_ready_until#04": 1},
    }
    record = change.record
    # Claiming the later one: it leaves its bucket, the learner goes back to the first's hour
    change = exam_stats.claimed(record, "b", NOW + 6 * HOUR)
    assert change.day_counts() == {
        "2027-04-07": {"learners_ready_until#23": 1},
        "2027-04-08": {"exam_expiring#04": -1, "learners_ready_until#04": -1},
    }
    record = change.record
    assert record.figures(NOW + 6 * HOUR) == {"generated": 2, "ready": 1, "claimed": 1, "expired": 0}
    # Past the first's expiry it counts as expired, for the learner and in the buckets (nothing moves)
    assert record.figures(first) == {"generated": 2, "ready": 0, "claimed": 1, "expired": 1}
    # Erasing a learner with a ready exam takes it and them out of the buckets
    change = exam_stats.erased(record, NOW + 6 * HOUR)
    assert change.day_counts() == {"2027-04-07": {"exam_expiring#23": -1, "learners_ready_until#23": -1}}
    assert change.gauges == {"exams_erased": 1}
    # And after the expiry, an erase has nothing left to move
    assert exam_stats.erased(record, first).day_counts() == {}


def test_a_records_pending_counts_are_the_sum_of_every_change_not_folded_yet() -> None:
    # Given a learner with one exam ready, whose publish is not folded into the global counters yet
    expiry = ready_expiry(NOW, 7)
    published = exam_stats.published(LearnerExams(), "a", expiry, NOW)
    held = exam_stats.merge_pending(None, {"days": published.day_counts(), "gauges": published.gauges})
    # When they claim it before any fold
    claimed = exam_stats.claimed(published.record, "a", NOW + HOUR)
    pending = exam_stats.merge_pending(held, {"days": claimed.day_counts(), "gauges": claimed.gauges})
    # Then the record carries both: one generated, one claimed, one user; the expiry day's buckets went up and down,
    # so they are dropped, not folded as 0
    assert pending == {"gauges": {"exams_generated": 1, "users_total": 1, "exams_claimed": 1}}
    # And folding the sum once moves the counters as folding each change did
    one_by_one: dict[str, int] = {}
    for change in (published, claimed):
        for counter, delta in change.gauges.items():
            one_by_one[counter] = one_by_one.get(counter, 0) + delta
    assert pending["gauges"] == {k: v for k, v in one_by_one.items() if v}
    # And nothing held plus nothing new is nothing (no empty maps written to the record)
    assert exam_stats.merge_pending({}, {"days": {"2027-04-07": {"x": 1}}, "gauges": {"g": -1}}) == {
        "days": {"2027-04-07": {"x": 1}},
        "gauges": {"g": -1},
    }
    assert exam_stats.merge_pending({"gauges": {"g": 2}}, {"gauges": {"g": -2}}) == {}


def test_the_records_pending_counts_are_read_as_written_and_as_older_records_hold_them() -> None:
    from pregen.adapters.exams import _pending_from

    pending = {"days": {"2027-04-07": {"exam_expiring#23": -1}}, "gauges": {"exams_claimed": 2}}
    # A JSON string, as the record is written now
    assert _pending_from({"S": '{"days":{"2027-04-07":{"exam_expiring#23":-1}},"gauges":{"exams_claimed":2}}'}) == (
        pending
    )
    # A map of maps, as records written before held it
    older = {
        "M": {
            "days": {"M": {"2027-04-07": {"M": {"exam_expiring#23": {"N": "-1"}}}}},
            "gauges": {"M": {"exams_claimed": {"N": "2"}}},
        }
    }
    assert _pending_from(older) == pending
