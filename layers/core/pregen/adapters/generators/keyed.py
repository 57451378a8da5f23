"""Claude behind a key that could not be read when the worker started: every call reads the key again (SSM, through
``read_key``), and while it still cannot be read the call fails closed with ``KeyUnavailable`` (retryable, no model
call made) and the ``AnthropicKeyUnreadable`` metric, which ``AnthropicKeyAlarm`` watches.

Never the offline generator instead: a typo in the parameter's name, another region, a KMS denial or a throttled read
at init must not store placeholder lessons as shared content. Once the key reads, calls go to the Claude generator
``build`` makes from it (Message Batches stay off for this container: it started without a key).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from pregen.domain.errors import KeyUnavailable
from pregen.observability import logger, metrics

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen.adapters.generators.claude import AnthropicGenerator
    from pregen.domain.courses import CourseRequest, LibraryLesson
    from pregen.domain.models import ContentRequest, Generation
    from pregen.domain.near import Verdict
    from pregen.domain.programs import SectionSpec


class KeyedGenerator:
    """A content generator, section writer and course planner that needs its key before any call."""

    name = "anthropic"

    def __init__(
        self,
        parameter: str,
        read_key: Callable[[], str],
        build: Callable[[str], AnthropicGenerator],
        *,
        reread_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.parameter = parameter
        self._reread_s = reread_s  # at most one SSM read per this many seconds while it fails (a batch of jobs)
        self._monotonic = monotonic
        self._last_failure: tuple[float, KeyUnavailable] | None = None
        self._read_key = read_key  # raises (any error) when the key cannot be read; returns it otherwise
        self._build = build
        self._generator: AnthropicGenerator | None = None
        self._lock = threading.Lock()  # a batch's records may run side by side

    def resolved(self) -> AnthropicGenerator:
        """The Claude generator, once the key reads; else ``KeyUnavailable`` (counted and logged)."""
        with self._lock:
            if self._generator is not None:
                return self._generator
            if self._last_failure is not None and self._monotonic() - self._last_failure[0] < self._reread_s:
                metrics.add_metric(name="AnthropicKeyUnreadable", unit=MetricUnit.Count, value=1)
                raise KeyUnavailable(str(self._last_failure[1]))
            try:
                key = self._read_key().strip()
                if not key:
                    raise ValueError("the parameter holds no key (empty)")
            except Exception as exc:
                metrics.add_metric(name="AnthropicKeyUnreadable", unit=MetricUnit.Count, value=1)
                reason = f"the Anthropic API key parameter {self.parameter} could not be read: {exc}"[:400]
                logger.error("Anthropic key unreadable: the job fails closed and comes back", reason=reason)
                unavailable = KeyUnavailable(reason)
                self._last_failure = (self._monotonic(), unavailable)
                raise unavailable from exc
            self._generator = self._build(key)
            logger.info("Anthropic key read: Claude generates from now on", parameter=self.parameter)
            return self._generator

    def generate(
        self, request: ContentRequest, feedback: str | None = None, *, max_calls: int | None = None
    ) -> Generation:
        return self.resolved().generate(request, feedback, max_calls=max_calls)

    def plan_course(
        self, request: CourseRequest, *, offered: list[LibraryLesson] | None = None, max_calls: int | None = None
    ) -> Generation:
        return self.resolved().plan_course(request, offered=offered, max_calls=max_calls)

    def judge_same(self, wording: ContentRequest, candidate: ContentRequest) -> Verdict:
        return self.resolved().judge_same(wording, candidate)

    def judge_alignment(self, questions: list[dict[str, Any]], objectives: list[str]) -> Generation:
        return self.resolved().judge_alignment(questions, objectives)

    def generate_section(self, spec: SectionSpec) -> Generation:
        from pregen.adapters.generators.claude_sections import ClaudeSectionWriter

        return ClaudeSectionWriter(self.resolved()).generate_section(spec)
