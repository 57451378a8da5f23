"""Load: many concurrent learners against the local stack on loopback, mostly cache hits; stops by itself.

    .venv/bin/python -m bench load                    # 50 clients for 60 s, 90 % hits; figures to stdout
    .venv/bin/python -m bench load --write            # ... and into docs/RELIABILITY.md
    .venv/bin/python -m bench load --clients 100 --duration 30 --hit-ratio 0.95

It starts the local stack (``python -m aws_emulator.stack``: moto, the HTTP front, the pollers, the offline
generator) as its own process on a free port, warms a set of keys until they are hits, then runs ``--clients``
threads, each with its own keep-alive connection and its own learner token, for ``--duration`` seconds. Each
request is a hit on a warm key, or (``1 - hit-ratio`` of them) a miss on a new key followed by nothing: the
worker generates it in the background, as on a real day; or (``--vote-ratio``) a vote on a warm item. An error is
a 5xx, a connection failure, or any status other than the one the request must get (200 for a hit or a vote, 202
for a first miss, or 429 once the learner has used the allowance of 10 misses a minute). After the run, 50
learners vote up one item at the same instant: every vote must be counted.

Client and server share this machine's cores, so the figures are a floor for the code, not a capacity claim:
on AWS each Lambda instance serves one request at a time and DynamoDB is a network hop away.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.harness import Environment, Result, Scenario, option
from bench.harness.http import KeepAlive
from bench.harness.http import connection as http_connection
from bench.report import DOC, percentile

if TYPE_CHECKING:
    import argparse

RELIABILITY = DOC.parent / "RELIABILITY.md"
SUBJECTS = ("math", "chemistry", "history", "biology", "physics", "geography", "english", "music")


@dataclass
class Tally:
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: {"hit": [], "miss": [], "vote": []})
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, ms: float, status: int, expected: int) -> None:
        with self.lock:
            self.latencies_ms[kind].append(ms)
            self.statuses[f"{kind} {status}"] += 1
            # A learner past the allowance of misses (10 a minute) is refused 429, as designed: not an error.
            if status != expected and not (kind == "miss" and status == 429):
                self.errors[f"{kind}: {status} (expected {expected})"] += 1

    def failed(self, kind: str, reason: str) -> None:
        with self.lock:
            self.statuses[f"{kind} error"] += 1
            self.errors[f"{kind}: {reason}"] += 1


def _query(i: int, tag: str) -> str:
    return f"/v1/content?kind=lesson&subject={SUBJECTS[i % len(SUBJECTS)]}&topic={tag}-{i}&grade={1 + i % 12}"


def warm(url: str, token: str, keys: int, *, timeout_s: float = 120) -> list[str]:
    """Ask for ``keys`` lessons and wait (up to ``timeout_s``) until every one is a hit."""
    conn = http_connection(url)
    paths = [_query(i, "warm") for i in range(keys)]
    pending = set(paths)
    deadline = time.monotonic() + timeout_s
    while pending and time.monotonic() < deadline:
        for path in sorted(pending):
            conn.request("GET", path, headers={"authorization": f"Bearer {token}"})
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                pending.discard(path)
        if pending:
            time.sleep(0.5)
    conn.close()
    if pending:
        raise SystemExit(f"{len(pending)} keys did not become hits within {timeout_s:g} s")
    return paths


def content_ids(url: str, token: str, paths: list[str]) -> list[str]:
    """The content id each warm path serves (what a learner votes on)."""
    conn = http_connection(url)
    ids = []
    for path in paths:
        conn.request("GET", path, headers={"authorization": f"Bearer {token}"})
        ids.append(json.loads(conn.getresponse().read())["content_id"])
    conn.close()
    return ids


def client(
    url: str,
    token: str,
    hits: list[str],
    *,
    hit_ratio: float,
    stop_at: float,
    tally: Tally,
    seed: int,
    tag: str,
    vote_on: list[str] | None = None,
    vote_ratio: float = 0.0,
) -> None:
    rng = random.Random(seed)
    conn = KeepAlive(url)
    headers = {"authorization": f"Bearer {token}"}
    n = 0
    while time.monotonic() < stop_at:
        method, body = "GET", None
        if vote_on and rng.random() < vote_ratio:
            kind, path, expected = "vote", f"/v1/content/{rng.choice(vote_on)}/votes", 200
            method, body = "POST", json.dumps({"vote": rng.choice(["up", "down"])})
        elif rng.random() < hit_ratio:
            kind, path, expected = "hit", rng.choice(hits), 200
        else:
            n += 1
            kind, path, expected = "miss", _query(n, f"{tag}-miss"), 202
        started = time.perf_counter()
        sent = headers if body is None else {**headers, "content-type": "application/json"}
        status = conn.send(method, path, sent, body)
        if isinstance(status, str):
            tally.failed(kind, status)
            continue
        tally.add(kind, (time.perf_counter() - started) * 1000, status, expected)
    conn.close()


def concurrent_votes(url: str, content_id: str, voters: int) -> tuple[int, int]:
    """``voters`` learners vote up the same item at the same instant, each on its own connection; then one more
    votes up. Returns (errors among the concurrent votes, the up count the last vote reports)."""
    from pregen_tools import tokens as dev_tokens

    barrier = threading.Barrier(voters)
    errors: list[str] = []
    path = f"/v1/content/{content_id}/votes"
    body = json.dumps({"vote": "up"})

    def voter(i: int) -> None:
        conn = http_connection(url)
        headers = {"authorization": f"Bearer {dev_tokens.mint(f'voter-{i}')}", "content-type": "application/json"}
        barrier.wait()
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(str(response.status))
        except (OSError, http.client.HTTPException) as exc:
            errors.append(type(exc).__name__)
        conn.close()

    threads = [threading.Thread(target=voter, args=(i,)) for i in range(voters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    conn = http_connection(url)
    conn.request("POST", path, body=body, headers={"authorization": f"Bearer {dev_tokens.mint('voter-last')}"})
    up = int(json.loads(conn.getresponse().read())["votes"]["up"])
    conn.close()
    return len(errors), up


def run(clients: int, duration_s: float, hit_ratio: float, warm_keys: int, vote_ratio: float = 0.1) -> dict[str, Any]:
    from pregen_tools import tokens as dev_tokens

    # Each client votes at a load's pace, far past a learner's vote limit (VOTES_PER_MINUTE, 10): what is measured
    # here is the platform under load, so the limit is lifted for the run (its own tests are in test_library.py).
    with Environment("emulator", stack_args=("--env", "VOTES_PER_MINUTE=1000")) as stack:
        url = stack.url
        # An admin warms: a student's allowance (10 misses a minute) would hold most of the keys back.
        warmer = dev_tokens.mint("load-warmer", "admin")
        hits = warm(url, warmer, warm_keys)
        ids = content_ids(url, warmer, hits)
        vote_check, ids = ids[-1], ids[:-1]  # kept out of the mix: its count must come out exact
        tally = Tally()
        stop_at = time.monotonic() + duration_s
        threads = [
            threading.Thread(
                target=client,
                args=(url, dev_tokens.mint(f"load-{i}"), hits),
                kwargs={
                    "hit_ratio": hit_ratio,
                    "stop_at": stop_at,
                    "tally": tally,
                    "seed": i,
                    "tag": f"c{i}",
                    "vote_on": ids,
                    "vote_ratio": vote_ratio,
                },
                daemon=True,
            )
            for i in range(clients)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=duration_s + 60)
        elapsed = time.perf_counter() - started
        vote_errors, votes_up = concurrent_votes(url, vote_check, clients)
    everything = [ms for samples in tally.latencies_ms.values() for ms in samples]
    requests = len(everything) + sum(v for k, v in tally.statuses.items() if k.endswith(" error"))
    errors = sum(tally.errors.values())

    def figures(samples: list[float]) -> dict[str, float]:
        return {f"p{p}": round(percentile(samples, p), 1) for p in (50, 90, 99)} | {
            "max": round(max(samples), 1) if samples else float("nan")
        }

    return {
        "clients": clients,
        "duration_s": round(elapsed, 1),
        "hit_ratio": hit_ratio,
        "vote_ratio": vote_ratio,
        "requests": requests,
        "requests_per_s": round(requests / elapsed, 1),
        "errors": errors,
        "error_rate": round(errors / requests, 6) if requests else float("nan"),
        "latency_ms": {"all": figures(everything)}
        | {kind: figures(samples) for kind, samples in tally.latencies_ms.items()},
        "statuses": dict(tally.statuses.most_common()),
        "concurrent_votes": {"voters": clients, "errors": vote_errors, "counted_up": votes_up - 1},
        "error_kinds": dict(tally.errors.most_common()),
    }


def markdown(result: dict[str, Any], command: str) -> str:
    lat = result["latency_ms"]
    rows = [
        f"| {kind} | {lat[kind]['p50']} | {lat[kind]['p90']} | {lat[kind]['p99']} | {lat[kind]['max']} |"
        for kind in ("hit", "miss", "vote", "all")
    ]
    votes = result["concurrent_votes"]
    return "\n".join(
        [
            f"Command: `{command}`: {result['clients']} concurrent clients (keep-alive connections) for "
            f"{result['duration_s']} s: {result['vote_ratio']:.0%} votes, then of the rest {result['hit_ratio']:.0%} "
            "hits and the others misses, through the local HTTP front (client and stack on the same 2 shared cores).",
            "",
            f"- requests: {result['requests']} ({result['requests_per_s']} per second)",
            f"- errors: {result['errors']} (error rate {result['error_rate']:.4%}); "
            + (", ".join(f"{k}: {v}" for k, v in result["error_kinds"].items()) or "none"),
            "- statuses: " + ", ".join(f"{k}: {v}" for k, v in result["statuses"].items()),
            "",
            "| latency (ms) | p50 | p90 | p99 | max |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"Then {votes['voters']} learners voted up one item at the same instant, each on its own connection: "
            f"{votes['errors']} errors, **{votes['counted_up']} of {votes['voters']} counted**.",
        ]
    )


def run_scenario(args: argparse.Namespace) -> Result:
    result = run(args.clients, args.duration, args.hit_ratio, args.warm_keys, args.vote_ratio)
    defaults = args.clients == 50 and args.duration == 60.0 and args.hit_ratio == 0.9
    command = "python -m bench load" + (
        "" if defaults else f" --clients {args.clients} --duration {args.duration:g} --hit-ratio {args.hit_ratio}"
    )
    votes = result["concurrent_votes"]
    exact = votes["errors"] == 0 and votes["counted_up"] == votes["voters"]
    return Result(markdown(result, command), args.command, result, ok=result["errors"] == 0 and exact)


SCENARIO = Scenario(
    "load",
    __doc__,
    run_scenario,
    options=(
        option("--clients", type=int, default=50),
        option("--duration", type=float, default=60.0, help="seconds of load; the run then stops"),
        option("--hit-ratio", type=float, default=0.9),
        option("--warm-keys", type=int, default=40),
        option("--vote-ratio", type=float, default=0.1, help="share of requests that are votes"),
    ),
    doc_file=RELIABILITY,
)
