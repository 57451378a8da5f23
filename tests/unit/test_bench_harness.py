"""bench's harness: one entry point, scenarios whose options are declared once, results written by one writer."""

from __future__ import annotations

import dataclasses
import importlib
from typing import TYPE_CHECKING

import pytest

from bench.__main__ import SCENARIOS, main
from bench.harness import Result, Scenario, from_args, option

if TYPE_CHECKING:
    import argparse
    from pathlib import Path


def _scenario(doc: Path, *, ok: bool = True) -> Scenario:
    def run(args: argparse.Namespace) -> Result:
        text = f"| n | {args.n} |"
        return Result(text, args.command, {"n": args.n}, sections={"demo": "## Demo\n\n" + text}, ok=ok)

    return Scenario("demo", "A demo.", run, options=(option("--n", type=int, default=3),), doc_file=doc)


def test_every_listed_scenario_is_a_module_with_that_name() -> None:
    for name in SCENARIOS:
        module = importlib.import_module(f"bench.{name}")
        assert module.SCENARIO.name == name
        assert not hasattr(module, "main")  # the harness owns the command line


def test_list_names_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {name} " in out for name in SCENARIOS)


def test_an_unknown_scenario_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no_such_bench"]) == 2
    assert "no scenario 'no_such_bench'" in capsys.readouterr().err


def test_a_run_prints_and_writes_only_with_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "BENCH.md"
    assert _scenario(doc).main(["--n", "5"]) == 0
    assert "| n | 5 |" in capsys.readouterr().out
    assert not doc.exists()
    assert _scenario(doc).main(["--n", "7", "--write"]) == 0
    assert "<!-- bench:demo -->\n## Demo\n\n| n | 7 |\n<!-- /bench:demo -->" in doc.read_text()
    assert _scenario(doc).main(["--write"]) == 0  # the section is replaced, not appended
    assert doc.read_text().count("<!-- bench:demo -->") == 1
    assert "| n | 3 |" in doc.read_text()


def test_the_command_is_the_one_typed_and_a_failed_check_exits_1(tmp_path: Path) -> None:
    seen: list[str] = []

    def run(args: argparse.Namespace) -> Result:
        seen.append(args.command)
        return Result("", args.command, ok=False)

    scenario = Scenario("demo", None, run, options=(option("--n", type=int, default=3),), doc_file=tmp_path / "x")
    assert scenario.main(["--n", "4"]) == 1
    assert seen == ["python -m bench demo --n 4"]


def test_refused_options_exit_2(tmp_path: Path) -> None:
    scenario = dataclasses.replace(_scenario(tmp_path / "x"), check=lambda a: "n must be even" if a.n % 2 else None)
    with pytest.raises(SystemExit) as exit_:
        scenario.main(["--n", "3"])
    assert exit_.value.code == 2


def test_from_args_fills_the_fields_options_set() -> None:
    @dataclasses.dataclass
    class Params:
        learners: int = 10
        latency_s: float = 1.0
        seed: int = 7

    scenario = Scenario(
        "demo",
        None,
        lambda a: Result("", ""),
        options=(option("--learners", type=int, default=10), option("--latency", dest="latency_s", type=float)),
    )
    args = scenario.parser().parse_args(["--learners", "40", "--latency", "2.5"])
    assert from_args(Params, args) == Params(learners=40, latency_s=2.5, seed=7)
