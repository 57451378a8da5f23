"""Near-duplicates' rules (issue 33): the hard filters, the candidate step and the offline judge, on the sets of
tests/data/near_duplicates.json (the served flow itself: tests/integration/test_near_duplicates.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pregen.domain.clock import FrozenClock
from pregen.domain.errors import NotFound
from pregen.domain.keys import cache_key
from pregen.domain.models import Caller, ContentRequest
from pregen.domain.near import IndexEntry, Verdict, bucket, offline_verdict, rank, words
from pregen.domain.records import StoredContent
from pregen.services.near import NearDeps, find_alias, index_published, revoke_alias
from pregen_fakes.memory import MemoryContentStore, MemoryCounters, MemoryNearStore

SETS = json.loads((Path(__file__).resolve().parents[1] / "data" / "near_duplicates.json").read_text())


def _served(pair: dict[str, Any]) -> bool:
    """Would the second request be served the first's content: the first is its bucket's candidate for the
    second, and the offline judge says yes."""
    a, b = ContentRequest.model_validate(pair["a"]), ContentRequest.model_validate(pair["b"])
    subs = pair.get("subs", ["alice", "alice"])
    key_a, key_b = cache_key(a, Caller(sub=subs[0])), cache_key(b, Caller(sub=subs[1]))
    if bucket(a) is None or bucket(a) != bucket(b):
        return False  # another bucket: never a candidate
    found = rank(b, [IndexEntry(key=key_a, subject=a.subject, topic=a.topic)], key_b)
    return bool(found) and offline_verdict(b, a).same


@pytest.mark.parametrize("pair", SETS["near_miss"], ids=lambda p: f"{p['why']}: {p['b'].get('topic')}")
def test_no_near_miss_is_served_from_the_library(pair: dict[str, Any]) -> None:
    assert not _served(pair)


def test_most_paraphrases_are_served_from_the_library() -> None:
    served = [_served(pair) for pair in SETS["paraphrase"]]
    assert sum(served) / len(served) >= 0.6


def test_the_hard_filters_are_the_whole_request_but_subject_and_topic() -> None:
    base = {"kind": "lesson", "subject": "Biology", "topic": "Photosynthesis", "grade": "7"}
    one = bucket(ContentRequest.model_validate(base))
    assert one == bucket(ContentRequest.model_validate({**base, "topic": "Cell division", "subject": "Science"}))
    for change in ({"grade": "8"}, {"learning_style": "visual"}, {"language": "spanish"}, {"lesson_number": 2}):
        assert bucket(ContentRequest.model_validate({**base, **change})) != one, change
    assert bucket(ContentRequest.model_validate({**base, "kind": "exam", "exam_type": "practice"})) is None
    personal = {"kind": "personalized_exercise", "subject": "Spanish", "topic": "Past tense"}
    assert bucket(ContentRequest.model_validate(personal)) is None


def test_words_drop_framing_and_stem_lightly_but_keep_negations() -> None:
    assert words("An introduction to Photosynthesis") == words("photosynthesis basics") == {"photosynthesis"}
    assert words("Chemical bonds") == words("chemical bonding")
    assert "without" in words("Animals without backbones")
    assert words("Newton\u2019s laws") == words("newton's law") == {"newton", "law"}


def test_the_judge_says_no_to_a_negation_on_one_side_and_to_another_bucket() -> None:
    lesson = {"kind": "lesson", "subject": "Biology", "topic": "Animals with backbones", "grade": "5"}
    a = ContentRequest.model_validate(lesson)
    negated = ContentRequest.model_validate({**lesson, "topic": "Animals not with backbones"})
    verdict = offline_verdict(negated, a)
    assert (verdict.same, verdict.why) == (False, "a negation on one side only")
    other_grade = ContentRequest.model_validate({**lesson, "grade": "6"})
    assert not offline_verdict(other_grade, a).same
    assert offline_verdict(ContentRequest.model_validate({**lesson, "topic": "The animals with a backbone"}), a).same


def test_rank_keeps_the_best_candidates_above_the_threshold_and_never_the_wording_itself() -> None:
    wording = ContentRequest.model_validate({"kind": "lesson", "subject": "Biology", "topic": "Photosynthesis basics"})
    entries = [
        IndexEntry("k-self", "biology", "photosynthesis basics"),
        IndexEntry("k-far", "biology", "mitosis"),
        IndexEntry("k-near", "biology", "photosynthesis"),
        IndexEntry("k-half", "biology", "photosynthesis in plants"),
    ]
    assert [e.key for e in rank(wording, entries, "k-self")] == ["k-near", "k-half"]


class _CountingJudge:
    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    def judge_same(self, wording: ContentRequest, candidate: ContentRequest) -> Verdict:
        self.calls += 1
        if self.fail:
            raise RuntimeError("provider down")
        return Verdict(**{**vars(offline_verdict(wording, candidate)), "model": "small", "cost_usd": 0.0002})


NOW = 1_800_000_000.0
PUBLISHED = ContentRequest.model_validate({"kind": "lesson", "subject": "Biology", "topic": "Photosynthesis"})
ASKED = ContentRequest.model_validate({"kind": "lesson", "subject": "Biology", "topic": "Photosynthesis basics"})


def _deps(judge: _CountingJudge, *, content_until: float = NOW + 86_400) -> tuple[NearDeps, MemoryCounters]:
    near, counters = MemoryNearStore(), MemoryCounters()
    store = MemoryContentStore(clock=FrozenClock(NOW))
    key = cache_key(PUBLISHED, Caller(sub="alice"))
    store.put_content(StoredContent(key, "lesson", {}, {}, None, NOW, content_until))
    index_published(near, PUBLISHED, key, content_until)
    return NearDeps(near=near, judge=judge, store=store, counters=counters, alias_ttl_days=30), counters


def test_a_pair_is_judged_once_and_its_cost_counted_and_the_alias_never_outlives_its_target() -> None:
    judge = _CountingJudge()
    deps, counters = _deps(judge, content_until=NOW + 3_600)
    key = cache_key(ASKED, Caller(sub="bob"))
    first = find_alias(ASKED, key, deps, NOW)
    again = find_alias(ASKED, key, deps, NOW)
    assert first.target == again.target == cache_key(PUBLISHED, Caller(sub="alice"))
    assert (judge.calls, len(first.paid), again.paid) == (1, 1, [])
    assert deps.near.get_alias(key, NOW + 3_599) == first.target
    assert deps.near.get_alias(key, NOW + 3_600) is None  # expired with its target, not after 30 days
    (totals,) = counters.items.values()
    assert totals == {"judged#lesson": 1, "judge_cost_usd#lesson": 0.0002, "aliased#lesson": 2}


def test_a_failing_judge_lets_the_miss_generate_and_a_revoked_alias_is_not_made_again() -> None:
    key = cache_key(ASKED, Caller(sub="bob"))
    failing, _ = _deps(_CountingJudge(fail=True))
    assert find_alias(ASKED, key, failing, NOW).target is None
    assert failing.near.get_alias(key, NOW) is None
    deps, _ = _deps(_CountingJudge())
    target = find_alias(ASKED, key, deps, NOW).target
    assert target is not None and revoke_alias(key, deps.near, NOW) == target
    assert find_alias(ASKED, key, deps, NOW).target is None
    with pytest.raises(NotFound):
        revoke_alias(key, deps.near, NOW)
