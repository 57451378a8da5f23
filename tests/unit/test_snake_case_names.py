"""The analytics answer's names: every camelCase key gets its snake_case name beside it, at any depth, from one
function; data keys (kinds, models, queues, percentiles) are left alone."""

from __future__ import annotations

from pregen.http.presenters import with_snake_case_names

FIGURES = {
    "from": "2027-01-09",
    "hitRate": 0.4,
    "hitsByKind": {"lesson": 3, "question_set": 1},
    "latencyMs": {"lesson": {"p50": 100, "p95": 200}},
    "tokensByModel": {"claude-sonnet-4-5": 7},
    "queues": {"interactive_dlq": {"visible": 0, "in_flight": 0}},
    "breakdown": {"contentItems": {"expiringWithin24h": 2}},
    "userStats": {"usersWithPreGen": 1, "avgPreGenPerUser": 2.5},
    "daily": [{"day": "2027-01-15", "costUsd": 0.5}],
}


def test_every_camel_case_key_has_its_snake_case_name_with_the_same_value() -> None:
    named = with_snake_case_names(FIGURES)
    assert named["hit_rate"] == named["hitRate"] == 0.4
    assert named["hits_by_kind"] == {"lesson": 3, "question_set": 1}
    assert named["latency_ms"] == {"lesson": {"p50": 100, "p95": 200}}
    assert named["breakdown"]["content_items"] == {"expiring_within_24h": 2, "expiringWithin24h": 2}
    assert named["user_stats"]["users_with_pre_gen"] == 1
    assert named["user_stats"]["avg_pre_gen_per_user"] == 2.5
    assert named["daily"] == [{"day": "2027-01-15", "cost_usd": 0.5, "costUsd": 0.5}]


def test_data_keys_and_snake_case_names_are_left_alone() -> None:
    named = with_snake_case_names(FIGURES)
    assert named["tokens_by_model"] == {"claude-sonnet-4-5": 7}
    assert named["queues"] == FIGURES["queues"]
    assert set(named) - set(FIGURES) == {"hit_rate", "hits_by_kind", "latency_ms", "tokens_by_model", "user_stats"}
    assert with_snake_case_names({"in_flight": 1, "p95": 2, "InteractiveQueue": 3}) == {
        "in_flight": 1,
        "p95": 2,
        "InteractiveQueue": 3,
    }


def test_the_camel_case_names_stay_beside_them_as_aliases() -> None:
    named = with_snake_case_names(FIGURES)
    assert set(FIGURES) <= set(named)
    assert (
        named["userStats"]
        == named["user_stats"]
        == {
            "users_with_pre_gen": 1,
            "usersWithPreGen": 1,
            "avg_pre_gen_per_user": 2.5,
            "avgPreGenPerUser": 2.5,
        }
    )
