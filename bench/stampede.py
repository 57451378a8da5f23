"""Stampede: N concurrent misses on one key through the local HTTP front → how many jobs and generations.
The generator takes a fixed time so every request arrives while the key is in flight.

    .venv/bin/python -m bench.stampede [--clients 200] [--write]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from bench.report import summary, write_section


def get(url: str, token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--latency", type=float, default=2.0, help="seconds the generator takes")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)

    from pregen_local import devjwt
    from pregen_local.stack import LocalStack, StackOptions, free_port

    stack = LocalStack(
        StackOptions(
            port=free_port(),
            state_file=Path(tempfile.mkdtemp()) / "stack.json",
            report=False,
            extra_env={"OFFLINE_LATENCY_SECONDS": str(args.latency)},
        )
    )
    state = stack.start()
    try:
        query = {"kind": "question_set", "subject": "Statistics", "topic": "Median", "question_type": "numeric"}
        url = state["url"] + "/v1/content?" + urllib.parse.urlencode(query)
        tokens = [devjwt.mint(f"stampede-{i}") for i in range(args.clients)]
        barrier = threading.Barrier(args.clients)
        answers: list[tuple[int, dict[str, Any], float]] = []
        lock = threading.Lock()

        def learner(i: int) -> None:
            barrier.wait()
            started = time.perf_counter()
            status, body = get(url, tokens[i])
            with lock:
                answers.append((status, body, (time.perf_counter() - started) * 1000))

        threads = [threading.Thread(target=learner, args=(i,)) for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        job_ids = {body.get("job_id") for status, body, _ in answers if status == 202}
        statuses = sorted({status for status, _, _ in answers})
        # Wait for the job, then read the generation counters (admin analytics).
        admin = devjwt.mint("stampede-ops", "admin")
        deadline = time.monotonic() + 60 + args.latency * 3
        while time.monotonic() < deadline and get(url, tokens[0])[0] != 200:
            time.sleep(0.2)
        time.sleep(1)  # let any duplicate delivery finish
        _, figures = get(state["url"] + "/v1/analytics", admin)
        generations = figures.get("totalGenerated")
        by_job: dict[str, int] = {}
        for status, body, _ in answers:
            if status == 202:
                by_job[body["job_id"]] = by_job.get(body["job_id"], 0) + 1
        job_statuses = {
            job_id: get(state["url"] + f"/v1/jobs/{job_id}", tokens[0])[1].get("status") for job_id in by_job
        }
        latencies = summary([ms for _, _, ms in answers])
    finally:
        stack.stop()

    text = "\n".join(
        [
            f"Command: `.venv/bin/python -m bench.stampede --clients {args.clients} --write`",
            "",
            f"{args.clients} learners ask for the same uncached question set at the same instant (a barrier), through "
            f"the local HTTP front; the generator takes {args.latency:g} s. A learner whose miss arrives just as the "
            "generation finishes can be handed a second job id; that job finds the content and is done at once "
            "(no second generation).",
            "",
            "| figure | value |",
            "|---|---|",
            f"| HTTP statuses | {', '.join(map(str, statuses))} |",
            f"| distinct jobs handed out (learners per job) | {len(job_ids)} ({', '.join(map(str, by_job.values()))})"
            " |",
            f"| those jobs' final status | {', '.join(sorted(set(map(str, job_statuses.values()))))} |",
            f"| generations | {generations} |",
            f"| generations per learner | {generations}/{args.clients} |",
            f"| miss response p50 / p99 (ms) | {latencies['p50']:.0f} / {latencies['p99']:.0f} |",
            "",
            "Each API invocation runs in an execution environment of its own (one event at a time, up to "
            "GetContentFunction's local limit of environments, the first ones cold), so the misses' latency is "
            "the environments' work queued on this machine's 2 shared cores, as on Lambda it would be spread "
            "over as many instances as there are requests.",
        ]
    )
    print(text)
    if args.write:
        write_section("stampede", "## Stampede\n\n" + text)
    return 0 if generations == 1 and set(job_statuses.values()) == {"done"} else 1


if __name__ == "__main__":
    raise SystemExit(main())
