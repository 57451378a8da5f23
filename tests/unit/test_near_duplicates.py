"""Near-duplicates' rules (issue 33): the hard filters, the candidate step and the offline judge, on the sets of
tests/data/near_duplicates.json (the served flow itself: tests/integration/test_near_duplicates.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pregen.domain.keys import cache_key
from pregen.domain.models import Caller, ContentRequest
from pregen.domain.near import IndexEntry, bucket, offline_verdict, rank, words

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
