"""A fake Anthropic Messages API (``POST /v1/messages``) on loopback, for tests and local runs without a key.

It speaks the real wire format: message responses with all four token kinds in ``usage``, and errors as
``{"type": "error", "error": {"type": ..., "message": ...}}`` with status 429 (and ``retry-after``), 529 or 500.
It can also fail below HTTP: reset the connection without answering, or hold it open past the client's timeout
(then reset it), as a provider outage or a broken network path would.

Scripted replies are served first, in order::

    with running_fake_anthropic() as fake:
        fake.script([Reply.rate_limited(retry_after=0), Reply.text("not json"), Reply.json(body)])
        ...  # point the client at fake.base_url

When the script is empty it answers with valid content: it reads the request's user prompt (which holds
``Request (JSON):\\n{...}``, see ``pregen.adapters.generators.prompts.user_prompt``) and returns the body of pregen's
``OfflineGenerator`` as JSON text. A near-duplicate judgement (``Asked (JSON):`` / ``In the library (JSON):``) is
answered with the offline judge's verdict (``pregen.domain.near.offline_verdict``), and a prompt without a request in
it (an exam section's) from its output schema (``pregen_fakes.schema_follower``), so every request pregen makes has an
answer. Optional fault rates (seeded) turn some of those answers into failures, whatever the request asks for.

Every request is recorded (``fake.requests``) with the body sent and the answer given.

Message Batches (``POST /v1/messages/batches``, ``GET /v1/messages/batches/{id}``, ``GET .../{id}/results``) speak
the SDK 2.x wire format: each request is answered like a direct one (script, faults, usage) when the batch is
created; the batch reads ``in_progress`` while ``fake.hold_batches`` is set, then ``ended`` with a ``results_url``;
results stream as JSONL in a shuffled order (seeded). ``fake.batch_fault(custom_id, "errored"|"expired"|
"canceled"|"missing")`` turns one request's result into that outcome (``missing``: no line at all).

Prompt caching honours the provider's minimum cacheable prompt (``min_cacheable_tokens``): a shorter prefix
marked ``cache_control`` is billed as plain input, as the real API does.

A tier (``FakeAnthropic(tier=Tier(output_tpm, input_tpm, rpm))``, ``--tier OTPM,ITPM,RPM``) makes it enforce the
provider's rate limits on direct Messages requests: a bucket per model for output tokens (charged ``max_tokens`` at
the start, corrected to the tokens produced at the end), input tokens and requests, each refilled continuously; a
request that does not fit is answered 429 with ``retry-after`` (whole seconds until it would fit), and every answer
carries ``anthropic-ratelimit-{output-tokens,input-tokens,requests}-{limit,remaining,reset}``.

Standalone: ``python -m pregen_fakes.fake_anthropic --port 8099``, then ``ANTHROPIC_BASE_URL=http://127.0.0.1:8099``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import io
import itertools
import json
import math
import os
import random
import re
import socket
import struct
import threading
import time
from collections import Counter, deque
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from pregen.adapters.generators.offline import OfflineGenerator
from pregen.adapters.generators.prompts import ALIGNMENT_MARKER
from pregen.domain.courses import CourseRequest
from pregen.domain.model_time import INSTANT, ModelLatency, estimate_tokens
from pregen.domain.models import ContentRequest
from pregen.domain.near import offline_verdict
from pregen_fakes import schema_follower

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

REQUEST_MARKER = "Request (JSON):"
COURSE_MARKER = "Course request (JSON):"  # the course planner's prompt (pregen.adapters.generators.prompts)
# The near-duplicate judge's prompt (pregen.adapters.generators.prompts.judge_prompt): the two requests it compares.
JUDGE_MARKERS = ("Asked (JSON):", "In the library (JSON):")


@dataclass(frozen=True)
class Usage:
    """What a reply reports in ``usage``. ``cache_write_1h_tokens`` is the part of
    ``cache_creation_input_tokens`` written with the 1-hour TTL (the rest is the 5-minute TTL)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_write_1h_tokens: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_creation_input_tokens - self.cache_write_1h_tokens,
                "ephemeral_1h_input_tokens": self.cache_write_1h_tokens,
            },
            "server_tool_use": None,
            "service_tier": "standard",
        }


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build it with the class methods.

    A message reply whose ``content`` is None answers with the offline body for the request (cut in half when
    ``truncate``; without its ``title`` when ``invalid``). A reply whose ``usage`` is None reports usage
    estimated from the request (about 4 characters a token, with prompt caching honoured for system blocks
    marked ``cache_control``).
    """

    status: int = 200
    content: str | None = None
    stop_reason: str = "end_turn"
    truncate: bool = False
    invalid: bool = False
    usage: Usage | None = None
    error_type: str | None = None
    error_message: str = ""
    retry_after: float | None = None
    drop: Literal["reset", "timeout"] | None = None
    hang_s: float = 0.0

    @property
    def fault(self) -> str | None:
        """What kind of failure this reply is, or None for a good answer."""
        if self.drop is not None:
            return self.drop
        if self.error_type is not None:
            return self.error_type
        if self.invalid:
            return "invalid"
        if self.stop_reason in {"max_tokens", "refusal"}:
            return self.stop_reason
        return None

    @classmethod
    def offline(cls, *, usage: Usage | None = None) -> Reply:
        """The valid answer the server gives when the script is empty."""
        return cls(usage=usage)

    @classmethod
    def json(cls, body: Mapping[str, Any], *, usage: Usage | None = None) -> Reply:
        return cls(content=json.dumps(body), usage=usage)

    @classmethod
    def invalid_offline(cls, *, usage: Usage | None = None) -> Reply:
        """Valid JSON that fails the schema: the offline body without its ``title``."""
        return cls(invalid=True, usage=usage)

    @classmethod
    def text(cls, text: str, *, stop_reason: str = "end_turn", usage: Usage | None = None) -> Reply:
        return cls(content=text, stop_reason=stop_reason, usage=usage)

    @classmethod
    def truncated(cls, text: str | None = None, *, usage: Usage | None = None) -> Reply:
        """``stop_reason: max_tokens`` with JSON cut off part-way (the offline body's first half by default)."""
        return cls(content=text, stop_reason="max_tokens", truncate=text is None, usage=usage)

    @classmethod
    def refusal(cls, text: str = "I can't help with that request.", *, usage: Usage | None = None) -> Reply:
        return cls(content=text, stop_reason="refusal", usage=usage)

    @classmethod
    def error(cls, status: int, error_type: str, message: str, *, retry_after: float | None = None) -> Reply:
        return cls(status=status, error_type=error_type, error_message=message, retry_after=retry_after)

    @classmethod
    def rate_limited(cls, *, retry_after: float | None = 0) -> Reply:
        """429 ``rate_limit_error``. ``retry-after`` 0 makes the SDK fall back to its own short backoff
        (about half a second); a small positive value such as 0.01 makes it retry almost at once."""
        return cls.error(
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit.",
            retry_after=retry_after,
        )

    @classmethod
    def overloaded(cls, *, retry_after: float | None = None) -> Reply:
        return cls.error(529, "overloaded_error", "Overloaded", retry_after=retry_after)

    @classmethod
    def connection_reset(cls) -> Reply:
        """No answer: the connection is reset (TCP RST) as soon as the request has been read."""
        return cls(status=0, drop="reset")

    @classmethod
    def timeout(cls, hang_s: float = 5.0) -> Reply:
        """No answer for ``hang_s`` seconds (longer than the client's timeout), then the connection is reset."""
        return cls(status=0, drop="timeout", hang_s=hang_s)

    @classmethod
    def server_error(cls, *, retry_after: float | None = None) -> Reply:
        return cls.error(500, "api_error", "Internal server error", retry_after=retry_after)


@dataclass(frozen=True)
class FaultRates:
    """Probabilities that an unscripted request fails, drawn from one seeded random (one draw per request).

    ``keyed``: each request's draw comes from the seed and the request itself (its model and messages, and how many
    times the same request came before), not from the order requests arrive in; with concurrent clients, whose
    arrival order changes from run to run, a run's faults are then the same for a seed (each job's first request
    meets the same fault, its re-ask the same, ...)."""

    rate_limited: float = 0.0
    overloaded: float = 0.0
    invalid: float = 0.0
    truncated: float = 0.0
    refusal: float = 0.0
    timeout: float = 0.0
    reset: float = 0.0
    seed: int = 0
    retry_after: float | None = 0
    hang_s: float = 5.0
    keyed: bool = False

    def __post_init__(self) -> None:
        rates = (
            self.rate_limited,
            self.overloaded,
            self.invalid,
            self.truncated,
            self.refusal,
            self.timeout,
            self.reset,
        )
        if any(r < 0 for r in rates) or sum(rates) > 1:
            raise ValueError("fault rates must be non-negative and add up to at most 1")

    def pick(self, rng: random.Random) -> Reply | None:
        """The failure to serve, or None for a valid answer."""
        draw = rng.random()
        faults = (
            (self.rate_limited, Reply.rate_limited(retry_after=self.retry_after)),
            (self.overloaded, Reply.overloaded(retry_after=self.retry_after)),
            (self.invalid, Reply.invalid_offline()),
            (self.truncated, Reply.truncated()),
            (self.refusal, Reply.refusal()),
            (self.timeout, Reply.timeout(self.hang_s)),
            (self.reset, Reply.connection_reset()),
        )
        for rate, reply in faults:
            if draw < rate:
                return reply
            draw -= rate
        return None


@dataclass(frozen=True)
class RecordedRequest:
    """One request received and the answer given (status 0: none, the connection was dropped)."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int
    response: dict[str, Any]
    fault: str | None = None
    at: float = field(default_factory=time.time, compare=False)  # when it was answered (wall clock)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def model(self) -> str | None:
        model = self.body.get("model")
        return model if isinstance(model, str) else None


class UnanswerableRequest(Exception):
    """The request cannot be answered (400 ``invalid_request_error``)."""


def _first_message(body: Mapping[str, Any]) -> str:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise UnanswerableRequest("messages: at least one message is required")
    first = messages[0]
    content = first.get("content") if isinstance(first, dict) else None
    if isinstance(content, list):
        content = "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return content if isinstance(content, str) else ""


def course_request_from(body: Mapping[str, Any]) -> CourseRequest | None:
    """The CourseRequest of a course planner's prompt, or None when the request is not one."""
    content = _first_message(body)
    if COURSE_MARKER not in content:
        return None
    try:
        spec, _ = json.JSONDecoder().raw_decode(content.split(COURSE_MARKER, 1)[1].lstrip())
        return CourseRequest.model_validate(spec)
    except (ValueError, ValidationError) as exc:
        raise UnanswerableRequest(f"the course request JSON is not valid: {exc}") from exc


def judged_requests_from(body: Mapping[str, Any]) -> tuple[ContentRequest, ContentRequest] | None:
    """The two requests of a near-duplicate judge's prompt (the learner's wording, the library's candidate), or None
    when the request is not a judgement."""
    content = _first_message(body)
    asked_marker, stored_marker = JUDGE_MARKERS
    if asked_marker not in content or stored_marker not in content:
        return None
    decoder = json.JSONDecoder()
    try:
        asked, _ = decoder.raw_decode(content.split(asked_marker, 1)[1].lstrip())
        stored, _ = decoder.raw_decode(content.split(stored_marker, 1)[1].lstrip())
        return ContentRequest.model_validate(asked), ContentRequest.model_validate(stored)
    except (ValueError, ValidationError) as exc:
        raise UnanswerableRequest(f"the judged requests' JSON is not valid: {exc}") from exc


def request_kind(body: Mapping[str, Any]) -> Literal["content", "course", "judge", "other"]:
    """What a Messages request asks for, read from its first user message: content (``content_request_from``
    answers it), a course outline, a near-duplicate judgement, or something else (an exam section: answered from
    its output schema)."""
    try:
        content = _first_message(body)
    except UnanswerableRequest:
        return "other"
    if all(marker in content for marker in JUDGE_MARKERS):
        return "judge"
    if COURSE_MARKER in content:
        return "course"
    return "content" if REQUEST_MARKER in content else "other"


def alignment_questions_from(body: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The questions of a course alignment judgement's prompt, or None when the request is not one."""
    content = _first_message(body)
    if ALIGNMENT_MARKER not in content:
        return None
    try:
        data, _ = json.JSONDecoder().raw_decode(content.split(ALIGNMENT_MARKER, 1)[1].lstrip())
        return [dict(question) for question in data["questions"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise UnanswerableRequest(f"the assessment JSON is not valid: {exc}") from exc


def content_request_from(body: Mapping[str, Any]) -> ContentRequest:
    """The ContentRequest in the first user message's ``Request (JSON):`` part."""
    content = _first_message(body)
    if REQUEST_MARKER not in content:
        raise UnanswerableRequest(f"the first user message holds no {REQUEST_MARKER!r} part")
    spec_text = content.split(REQUEST_MARKER, 1)[1].lstrip()
    try:
        spec, _ = json.JSONDecoder().raw_decode(spec_text)
        return ContentRequest.model_validate(spec)
    except (ValueError, ValidationError) as exc:
        raise UnanswerableRequest(f"the request JSON is not a valid ContentRequest: {exc}") from exc


_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def min_cacheable_tokens(model: str) -> int:
    """The provider's minimum cacheable prompt: 2,048 tokens for Haiku models here, 1,024 for the others
    (some newer models need 4,096; the handbook in pregen.adapters.generators.prompts is sized above all of these)."""
    return 2_048 if "haiku" in model else 1_024


def _rfc3339(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


@dataclass(frozen=True)
class Tier:
    """The rate limits the fake enforces per model, per minute, as the provider does: output tokens are counted from
    ``max_tokens`` when a request starts and corrected to the tokens produced when it ends; input tokens (estimated
    from the request) and one request are counted when it starts. Each limit is a bucket of that size refilled
    continuously (the whole limit a minute)."""

    output_tpm: int
    input_tpm: int
    rpm: int

    @classmethod
    def parse(cls, spec: str) -> Tier:
        """``OTPM,ITPM,RPM``, e.g. ``20000,400000,60``."""
        try:
            output_tpm, input_tpm, rpm = (int(part) for part in spec.split(","))
        except ValueError as exc:
            raise ValueError(f"tier: expected OTPM,ITPM,RPM (three whole numbers), got {spec!r}") from exc
        if min(output_tpm, input_tpm, rpm) <= 0:
            raise ValueError("tier: every limit must be positive")
        return cls(output_tpm, input_tpm, rpm)


_LIMITS = (("output-tokens", "output_tpm"), ("input-tokens", "input_tpm"), ("requests", "rpm"))


@dataclass
class _Buckets:
    """One model's three buckets: their levels at ``at`` (epoch seconds)."""

    tier: Tier
    levels: dict[str, float]
    at: float

    @classmethod
    def full(cls, tier: Tier, now: float) -> _Buckets:
        return cls(tier, {wire: float(getattr(tier, name)) for wire, name in _LIMITS}, now)

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.at)
        for wire, name in _LIMITS:
            limit = getattr(self.tier, name)
            self.levels[wire] = min(float(limit), self.levels[wire] + limit * elapsed / 60)
        self.at = now

    def wait_s(self, need: dict[str, float]) -> float:
        """0 when ``need`` fits now, else the seconds until it will."""
        wait = 0.0
        for wire, name in _LIMITS:
            short = need[wire] - self.levels[wire]
            if short > 0:
                wait = max(wait, short * 60 / getattr(self.tier, name))
        return wait

    def headers(self, now: float) -> dict[str, str]:
        found: dict[str, str] = {}
        for wire, name in _LIMITS:
            limit = getattr(self.tier, name)
            level = max(0.0, self.levels[wire])
            found[f"anthropic-ratelimit-{wire}-limit"] = str(limit)
            found[f"anthropic-ratelimit-{wire}-remaining"] = str(int(level))
            found[f"anthropic-ratelimit-{wire}-reset"] = _rfc3339(now + (limit - level) * 60 / limit)
        return found


class FakeAnthropic:
    """The fake's state: the script, the fault rates, the prompt cache and the recorded requests."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultRates | None = None,
        latency: ModelLatency = INSTANT,
        require_api_key: bool = True,
        answer_tokens: Callable[[ContentRequest], int] | None = None,
        follow: Literal["prompt", "schema"] = "prompt",
        tier: Tier | None = None,
    ) -> None:
        self.faults = faults or FaultRates()
        # The rate limits enforced on direct Messages requests (None: none), per model; ``throttled`` counts 429s.
        self.tier = tier
        self._buckets: dict[str, _Buckets] = {}
        self.throttled = 0
        # "schema": answer from the output schema alone, ignoring the prompt (pregen_fakes.schema_follower).
        self.follow = follow
        # The offline bodies are terse (a lesson is ~100 tokens of JSON); a benchmark passes the output length a
        # real answer to the request would have, and estimated usage reports at least that many output tokens.
        self.answer_tokens = answer_tokens
        # How long an answer takes (pregen.domain.model_time): the request's model tier and the answer's output
        # tokens (its usage), waited out before the answer is sent, as a stream would take to finish.
        self.latency = latency
        self.require_api_key = require_api_key
        self.requests: list[RecordedRequest] = []
        self._script: deque[Reply] = deque()
        self._rng = random.Random(self.faults.seed)
        self._seen: Counter[str] = Counter()  # keyed fault draws: how many times each request came
        self._cached: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._offline = OfflineGenerator()
        self.batches: dict[str, dict[str, Any]] = {}
        self.hold_batches = False
        self._batch_faults: dict[str, str] = {}
        # Called with the client's (host, port) before a Messages request is answered; True means the client is
        # gone (a benchmark killed the process that sent it: a crash mid-request), so the request is recorded as
        # dropped (fault "client_gone") and not answered.
        self.before_answer: Callable[[tuple[str, int]], bool] | None = None
        self._httpd = _HTTPServer((host, port), self)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- scripting --------------------------------------------------------------------------------------------

    def script(self, replies: Iterable[Reply]) -> None:
        """Queue replies; each request takes the next one. Unscripted requests get valid (offline) content."""
        with self._lock:
            self._script.extend(replies)

    @property
    def pending(self) -> int:
        """Scripted replies not served yet."""
        with self._lock:
            return len(self._script)

    def reset(self) -> None:
        """Forget the script, the recorded requests and the prompt cache; reseed the fault random."""
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self._cached.clear()
            self._seen.clear()
            self._rng = random.Random(self.faults.seed)

    # -- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> FakeAnthropic:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-anthropic", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- answering --------------------------------------------------------------------------------------------

    # -- message batches ----------------------------------------------------------------------------------------

    def batch_fault(self, custom_id: str, outcome: str) -> None:
        """Make one batch request end ``errored``, ``expired``, ``canceled`` or ``missing`` (no result line)."""
        if outcome not in {"errored", "expired", "canceled", "missing"}:
            raise ValueError(f"unknown batch outcome {outcome!r}")
        with self._lock:
            self._batch_faults[custom_id] = outcome

    def _create_batch(self, body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            return _error(Reply.error(400, "invalid_request_error", "requests: at least one request is required"))
        ids = [r.get("custom_id") if isinstance(r, dict) else None for r in requests]
        bad = [i for i in ids if not isinstance(i, str) or not _CUSTOM_ID.fullmatch(i)]
        if bad:
            return _error(Reply.error(400, "invalid_request_error", f"custom_id must match {_CUSTOM_ID.pattern}"))
        if len(set(ids)) != len(ids):
            return _error(Reply.error(400, "invalid_request_error", "custom_id values must be unique in a batch"))
        results: list[dict[str, Any]] = []
        # What each request was answered with (custom_id, params, status, injected fault): a benchmark counts a
        # batch's requests and valid answers from it, as it counts the Messages requests from ``requests``.
        answered: list[tuple[str, dict[str, Any], int, str | None]] = []
        for custom_id, entry in zip(ids, requests, strict=True):
            with self._lock:
                fault = self._batch_faults.pop(str(custom_id), None)
            if fault == "missing":
                continue
            if fault in {"expired", "canceled"}:
                results.append({"custom_id": custom_id, "result": {"type": fault}})
                continue
            if fault == "errored":
                status, _, answer = _error(Reply.error(500, "api_error", "Internal server error"))
            else:
                # A batch is asynchronous: its requests' model time is not waited out in the create call.
                params = dict(entry.get("params") or {})
                status, _, answer, injected = self._answer(params, wait=False)
                if status == 0:  # a dropped connection has no place in a batch: the request errored
                    status, _, answer = _error(Reply.error(500, "api_error", "Internal server error"))
                answered.append((str(custom_id), params, status, injected))
            if status == 200:
                results.append({"custom_id": custom_id, "result": {"type": "succeeded", "message": answer}})
            else:
                results.append({"custom_id": custom_id, "result": {"type": "errored", "error": answer}})
        with self._lock:
            self._rng.shuffle(results)  # the provider does not keep the submitted order
            batch_id = f"msgbatch_fake_{next(self._ids):012d}"
            self.batches[batch_id] = {
                "created_at": time.time(),
                "results": results,
                "count": len(requests),
                "answered": answered,
            }
        return 200, {}, self._batch_view(batch_id)

    def _batch_view(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        ended = not self.hold_batches
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if ended:
            for line in batch["results"]:
                counts[line["result"]["type"]] += 1
            counts["expired"] += batch["count"] - len(batch["results"])
        else:
            counts["processing"] = batch["count"]
        created = batch["created_at"]
        return {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts,
            "created_at": _rfc3339(created),
            "expires_at": _rfc3339(created + 86_400),
            "ended_at": _rfc3339(time.time()) if ended else None,
            "cancel_initiated_at": None,
            "archived_at": None,
            "results_url": f"{self.base_url}/v1/messages/batches/{batch_id}/results" if ended else None,
        }

    def handle_get(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        """Retrieve a batch (JSON) or its results (a list of JSONL lines)."""
        parts = path.split("?", 1)[0].strip("/").split("/")
        if self.require_api_key and not (headers.get("x-api-key") or headers.get("authorization")):
            return _error(Reply.error(401, "authentication_error", "x-api-key header is required"))
        if len(parts) in (4, 5) and parts[:3] == ["v1", "messages", "batches"] and parts[3] in self.batches:
            if len(parts) == 4:
                return 200, {}, self._batch_view(parts[3])
            if parts[4] == "results" and not self.hold_batches:
                return 200, {"content-type": "application/x-jsonl"}, list(self.batches[parts[3]]["results"])
        return _error(Reply.error(404, "not_found_error", f"no route for GET {path}"))

    def handle(
        self,
        path: str,
        headers: dict[str, str],
        raw: bytes,
        client: tuple[str, int] | None = None,
        received: float | None = None,
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        """Answer one HTTP request: (status, extra headers, JSON body; status 0: drop the connection). Records it.
        ``received``: when the request arrived (``time.perf_counter``; default: now), where its answer time starts."""
        received = time.perf_counter() if received is None else received
        body: dict[str, Any] = {}
        try:
            parsed = json.loads(raw or b"{}")
            if isinstance(parsed, dict):
                body = parsed
        except ValueError:
            pass
        if path.split("?", 1)[0].rstrip("/") == "/v1/messages/batches":
            status, extra, answer = self._create_batch(body)
            with self._lock:
                self.requests.append(RecordedRequest(path, headers, body, status, answer))
            return status, extra, answer
        rejected = self._reject(path, headers, body)
        if rejected:
            status, extra, answer, fault = (*_error(rejected), rejected.fault)
        elif client is not None and self.before_answer is not None and self.before_answer(client):
            status, extra, answer, fault = 0, {}, {"dropped": "client_gone"}, "client_gone"
        else:
            status, extra, answer, fault = self._answer(body, received=received)
        with self._lock:
            self.requests.append(RecordedRequest(path, headers, body, status, answer, fault))
        return status, extra, answer

    def _reject(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> Reply | None:
        """The error for a request the real API would refuse before generating, or None."""
        if path.split("?", 1)[0].rstrip("/") != "/v1/messages":
            return Reply.error(404, "not_found_error", f"no route for {path}")
        if self.require_api_key and not (headers.get("x-api-key") or headers.get("authorization")):
            return Reply.error(401, "authentication_error", "x-api-key header is required")
        if not body:
            return Reply.error(400, "invalid_request_error", "the body must be a JSON object")
        missing = [name for name in ("model", "max_tokens", "messages") if name not in body]
        if missing:
            return Reply.error(400, "invalid_request_error", f"{missing[0]}: Field required")
        return None

    def _answer(
        self, body: dict[str, Any], *, wait: bool = True, received: float | None = None
    ) -> tuple[int, dict[str, str], dict[str, Any], str | None]:
        """A reply to one Messages request; ``wait``: once the time the latency model gives its answer has passed
        since ``received`` (default: now), the fake's own work included (errors and dropped connections come at
        once, or after their own hang)."""
        received = time.perf_counter() if received is None else received
        charged = wait and self.tier is not None  # a batch's requests are not charged to the minute
        if charged:
            limited = self._charge(body)
            if limited is not None:
                return limited
        try:
            status, headers, message, fault = self._reply(body, wait=wait, received=received)
        except BaseException:
            if charged:
                self._settle(body, 0)
            raise
        if charged:
            # The provider corrects the output tokens to those produced when the request ends.
            produced = int((message.get("usage") or {}).get("output_tokens") or 0) if status == 200 else 0
            headers = {**headers, **self._settle(body, produced)}
        return status, headers, message, fault

    def _charge(self, body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any], str | None] | None:
        """Count one request against its model's buckets, or answer 429 with ``retry-after`` when it does not fit."""
        assert self.tier is not None
        model = str(body.get("model") or "")
        need = {
            "output-tokens": float(body.get("max_tokens") or 0),
            "input-tokens": float(estimate_tokens(json.dumps([body.get("system"), body.get("messages")]))),
            "requests": 1.0,
        }
        now = time.time()
        with self._lock:
            buckets = self._buckets.setdefault(model, _Buckets.full(self.tier, now))
            buckets.refill(now)
            wait = buckets.wait_s(need)
            if wait <= 0:
                for wire, amount in need.items():
                    buckets.levels[wire] -= amount
                return None
            self.throttled += 1
            headers = buckets.headers(now)
        status, extra, answer = _error(Reply.rate_limited(retry_after=max(1, math.ceil(wait))))
        return status, {**extra, **headers}, answer, "rate_limit_error"

    def _settle(self, body: dict[str, Any], produced: int) -> dict[str, str]:
        """Give back what the request did not produce of its ``max_tokens``; the buckets' headers after it."""
        now = time.time()
        with self._lock:
            buckets = self._buckets[str(body.get("model") or "")]
            buckets.refill(now)
            buckets.levels["output-tokens"] += max(0, float(body.get("max_tokens") or 0) - produced)
            buckets.refill(now)  # never above the limit
            return buckets.headers(now)

    def _reply(
        self, body: dict[str, Any], *, wait: bool, received: float
    ) -> tuple[int, dict[str, str], dict[str, Any], str | None]:
        with self._lock:
            reply = self._script.popleft() if self._script else self.faults.pick(self._draw(body)) or Reply.offline()
        if reply.drop is not None:
            time.sleep(reply.hang_s)
            return 0, {}, {"dropped": reply.drop}, reply.fault
        if reply.error_type is not None:
            return (*_error(reply), reply.fault)
        try:
            text = self._reply_text(reply, body)
        except UnanswerableRequest as exc:
            return (*_error(Reply.error(400, "invalid_request_error", str(exc))), "invalid_request_error")
        usage = reply.usage or self._estimate_usage(body, text)
        if wait and not self.latency.instant:
            seed = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
            model, elapsed = str(body.get("model") or ""), time.perf_counter() - received
            time.sleep(self.latency.remaining(model, usage.output_tokens, seed, elapsed))
        fault = reply.fault
        message = {
            "id": f"msg_fake_{next(self._ids):012d}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": reply.stop_reason,
            "stop_sequence": None,
            "usage": usage.to_wire(),
        }
        return reply.status, {}, message, fault

    def _draw(self, body: Mapping[str, Any]) -> random.Random:
        """The random a request's fault is drawn from (the caller holds the lock): the fake's sequence, or (keyed
        rates) one seeded by the seed, the request's model and messages, and how often that request came before."""
        if not self.faults.keyed:
            return self._rng
        identity = hashlib.sha256(
            json.dumps([body.get("model"), body.get("messages")], sort_keys=True, default=str).encode()
        ).hexdigest()
        seen = self._seen[identity]
        self._seen[identity] += 1
        return random.Random(f"{self.faults.seed}:{identity}:{seen}")

    def _reply_text(self, reply: Reply, body: Mapping[str, Any]) -> str:
        if reply.content is not None:
            return reply.content
        offline = self._answer_body(body)
        if reply.invalid:
            # Valid JSON the schema rejects: without its title, or (an answer without one: a judgement) its first field.
            dropped = "title" if "title" in offline else next(iter(offline), None)
            offline = {k: v for k, v in offline.items() if k != dropped}
        text = json.dumps(offline)
        return text[: len(text) // 2] if reply.truncate else text

    def _answer_body(self, body: Mapping[str, Any]) -> dict[str, Any]:
        judged = judged_requests_from(body)
        if judged is not None:
            # The near-duplicate judge (in both modes: its schema says nothing of the two requests): the offline
            # judge's verdict, a deterministic stand-in for the model's.
            verdict = offline_verdict(*judged)
            return {"same": verdict.same, "why": verdict.why}
        questions = alignment_questions_from(body)
        if questions is not None:  # a judgement is of the prompt's questions, whatever the mode
            return self._offline.judge_alignment(questions, []).body
        schema = ((body.get("output_config") or {}).get("format") or {}).get("schema")
        if self.follow == "schema":
            if not isinstance(schema, dict):
                raise UnanswerableRequest("follow=schema: the request has no output_config.format.schema")
            return schema_follower.answer(schema, self._offline)
        course = course_request_from(body)
        if course is not None:
            return self._offline.plan_course(course).body
        if request_kind(body) == "other" and isinstance(schema, dict):
            # A prompt without a request to read (an exam section's): answered from its output schema, as a model
            # that follows the schema would.
            return schema_follower.answer(schema, self._offline)
        return self._offline.generate(content_request_from(body)).body

    def _estimate_usage(self, body: Mapping[str, Any], answer: str) -> Usage:
        """About 4 characters a token. System blocks up to the last ``cache_control`` mark are the cached prefix:
        written on first sight (1-hour TTL when the mark says ``"ttl": "1h"``), read afterwards."""
        system = body.get("system")
        blocks: list[Any] = [{"type": "text", "text": system}] if isinstance(system, str) else list(system or [])
        marks = [i for i, b in enumerate(blocks) if isinstance(b, dict) and b.get("cache_control")]
        prefix = blocks[: marks[-1] + 1] if marks else []
        rest = blocks[len(prefix) :]
        prefix_tokens = estimate_tokens(_text_of(prefix))
        uncached = _text_of(rest) + "".join(
            _text_of(m.get("content")) for m in body.get("messages") or [] if isinstance(m, dict)
        )
        written = read = write_1h = 0
        if prefix and prefix_tokens < min_cacheable_tokens(str(body.get("model") or "")):
            # Below the provider's minimum cacheable prompt the mark is ignored: the prefix is plain input.
            uncached = _text_of(prefix) + uncached
            prefix = []
        if prefix:
            digest = hashlib.sha256(json.dumps([body.get("model"), prefix], sort_keys=True).encode()).hexdigest()
            with self._lock:
                seen = digest in self._cached
                self._cached.add(digest)
            if seen:
                read = prefix_tokens
            else:
                written = prefix_tokens
                if (prefix[-1].get("cache_control") or {}).get("ttl") == "1h":
                    write_1h = prefix_tokens
        output_tokens = estimate_tokens(answer)
        if self.answer_tokens is not None:
            with suppress(UnanswerableRequest):
                output_tokens = max(output_tokens, self.answer_tokens(content_request_from(body)))
        return Usage(
            input_tokens=estimate_tokens(uncached),
            output_tokens=output_tokens,
            cache_creation_input_tokens=written,
            cache_read_input_tokens=read,
            cache_write_1h_tokens=write_1h,
        )


def _error(reply: Reply) -> tuple[int, dict[str, str], dict[str, Any]]:
    headers: dict[str, str] = {}
    if reply.retry_after is not None:
        seconds = reply.retry_after
        headers["retry-after"] = str(int(seconds)) if float(seconds).is_integer() else str(seconds)
    body = {
        "type": "error",
        "error": {"type": reply.error_type or "api_error", "message": reply.error_message},
        "request_id": f"req_fake_{threading.get_ident():x}{time.monotonic_ns():x}",
    }
    return reply.status, headers, body


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeAnthropic) -> None:
        self.fake = fake
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-anthropic/1"
    server: _HTTPServer

    def do_POST(self) -> None:
        received = time.perf_counter()  # the answer time starts when the request is in, before its body is read
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, answer = self.server.fake.handle(self.path, headers, raw, self.client_address[:2], received)
        if status == 0:
            self._reset()
            return
        self._send(status, extra, answer)

    def _reset(self) -> None:
        """Close with SO_LINGER 0, so the client sees a TCP reset instead of an answer."""
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        self.close_connection = True
        self.wfile = io.BytesIO()  # finish() flushes it: nothing may reach the closed socket

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, answer = self.server.fake.handle_get(self.path, headers)
        self._send(status, extra, answer)

    def _send(self, status: int, extra: dict[str, str], answer: Any) -> None:
        if isinstance(answer, list):  # JSON Lines (batch results)
            data = "".join(json.dumps(line) + "\n" for line in answer).encode()
            answer = {}
        else:
            data = json.dumps(answer).encode()
        self.send_response(status)
        if "content-type" not in extra:
            self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", str(answer.get("request_id") or answer.get("id") or "req_fake"))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``FakeAnthropic.requests`` instead of the access log."""


@contextmanager
def running_fake_anthropic(**options: Any) -> Iterator[FakeAnthropic]:
    """A started fake (``FakeAnthropic``'s options; port 0: an ephemeral one, read ``.base_url``), stopped on exit."""
    with FakeAnthropic(**options) as fake:
        yield fake


# The faults the command line can inject, each a probability (FaultRates' fields of the same names).
FAULTS = ("rate_limited", "overloaded", "invalid", "truncated", "refusal", "timeout", "reset")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pregen_fakes.fake_anthropic", description="A fake Anthropic Messages API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault random")
    parser.add_argument(
        "--latency",
        default=os.environ.get("MODEL_LATENCY", "realistic"),
        metavar="SPEC",
        help="how long each answer takes: realistic (default; MODEL_LATENCY), instant, scale:F, fixed:S, "
        "ttft=S,rate=R[,jitter=J] (pregen.domain.model_time.ModelLatency.parse)",
    )
    parser.add_argument(
        "--tier",
        default=os.environ.get("FAKE_ANTHROPIC_TIER"),
        metavar="OTPM,ITPM,RPM",
        help="rate limits per model and minute (output tokens, input tokens, requests): 429s with retry-after past "
        "them, anthropic-ratelimit-* headers on every answer (default: none; FAKE_ANTHROPIC_TIER)",
    )
    for fault in FAULTS:
        flag = fault.replace("_", "-")
        parser.add_argument(f"--{flag}", type=float, default=0.0, metavar="P", help=f"probability of {flag}")
    args = parser.parse_args(argv)
    try:
        latency = ModelLatency.parse(args.latency)
        tier = Tier.parse(args.tier) if args.tier else None
    except ValueError as exc:
        parser.error(str(exc))
    faults = FaultRates(seed=args.seed, **{fault: getattr(args, fault) for fault in FAULTS})
    fake = FakeAnthropic(host=args.host, port=args.port, faults=faults, latency=latency, tier=tier)
    print(
        f"fake Anthropic Messages API on {fake.base_url}, model latency {latency.describe()} (Ctrl-C to stop)",
        flush=True,
    )
    try:
        fake.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
