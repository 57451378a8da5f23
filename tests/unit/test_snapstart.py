"""SnapStart's after-restore hook: restored environments draw their own randomness and rebuild their connections."""

from __future__ import annotations

import random

from aws_emulator.template import Template
from pregen.wiring import snapstart
from pregen.wiring.cache import once

BUILT: list[object] = []


@once
def _client() -> object:
    made = object()
    BUILT.append(made)
    return made


def test_after_restore_forgets_what_was_built_before_the_snapshot() -> None:
    # Given a client built during init, before the snapshot
    before = _client()
    assert _client() is before
    # When an environment is restored from the snapshot
    snapshot_state = random.getstate()
    snapstart.after_restore()
    # Then it builds its own on first use, and its random numbers no longer follow the snapshot's
    assert _client() is not before
    assert random.getstate() != snapshot_state


def test_outside_a_snapstart_runtime_registering_does_nothing() -> None:
    assert snapstart.register() is False


def test_snapstart_is_on_for_the_latency_sensitive_functions_and_a_parameter_turns_it_off() -> None:
    for function in ("GetContentFunction", "ExamsFunction"):
        on = Template(overrides={}).resolve(Template().resources_section[function]["Properties"])
        off = Template(overrides={"SnapStart": "false"}).resolve(Template().resources_section[function]["Properties"])
        assert on["SnapStart"] == {"ApplyOn": "PublishedVersions"}
        assert on["AutoPublishAlias"] == "live"  # SnapStart applies to published versions; the API calls the alias
        assert "SnapStart" not in off
