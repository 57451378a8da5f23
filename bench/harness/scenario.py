"""A scenario (a benchmark: its name, its options declared once, its run) and the result of a run (named figures,
the Markdown it prints and writes, the command that produced it)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from bench.report import DOC, write_section

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


T = TypeVar("T")


def from_args(cls: type[T], args: argparse.Namespace) -> T:
    """The dataclass ``cls`` with each field an option of the same name (``dest``) sets; the others at defaults."""
    assert dataclasses.is_dataclass(cls)
    names = (f.name for f in dataclasses.fields(cls))
    return cls(**{name: getattr(args, name) for name in names if hasattr(args, name)})


@dataclass(frozen=True)
class Option:
    """One command-line option of a scenario, as ``argparse.add_argument`` takes it."""

    flags: tuple[str, ...]
    settings: dict[str, Any]


def option(*flags: str, **settings: Any) -> Option:
    return Option(flags, settings)


@dataclass
class Result:
    """What a run produced. ``markdown`` is printed; with ``--write`` each of ``sections`` (section name → body;
    by default the scenario's name → ``markdown``) replaces its section of ``doc`` (by default the scenario's)."""

    markdown: str
    command: str
    figures: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, str] | None = None
    doc: Path | None = None
    ok: bool = True


@dataclass(frozen=True)
class Scenario:
    name: str
    doc: str | None
    run: Callable[[argparse.Namespace], Result]
    options: tuple[Option, ...] = ()
    doc_file: Path = DOC  # where --write puts the results
    check: Callable[[argparse.Namespace], str | None] | None = None  # a reason the options are refused, or None

    def parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(
            prog=f"python -m bench {self.name}",
            description=self.doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        for each in self.options:
            parser.add_argument(*each.flags, **each.settings)
        parser.add_argument("--write", action="store_true", help=f"write the results into {self.doc_file.name}")
        return parser

    def main(self, argv: list[str]) -> int:
        """Parse ``argv``, run, print the result and (with ``--write``) write it; 0 when the run's checks held."""
        parser = self.parser()
        args = parser.parse_args(argv)
        problem = self.check(args) if self.check else None
        if problem:
            parser.error(problem)
        args.command = shlex.join(["python", "-m", "bench", self.name, *argv])
        result = self.run(args)
        print(result.markdown)
        if result.figures:
            print(json.dumps(result.figures, indent=2, default=str))
        if args.write:
            sections = result.sections if result.sections is not None else {self.name: result.markdown}
            for section, body in sections.items():
                write_section(section, body, doc=result.doc or self.doc_file)
        return 0 if result.ok else 1
