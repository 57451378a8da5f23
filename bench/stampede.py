"""Stampede: N concurrent misses on one key through the local HTTP front → how many jobs and generations, how long
the misses wait for their answer, and the CPU every process spent on them.
The generator takes a fixed time so every request arrives while the key is in flight.

    .venv/bin/python -m bench stampede [--clients 200] [--write]

Three runs, each on a fresh stack: get-content's 8 environments started with the stack (provisioned concurrency's
analogue), after a warm-up burst on another key or not, and only 1 started (the other 7 cold-start during the
burst). The learners are one asyncio client in a
process of its own (one thread, a new connection per learner, opened inside the timed part), so the client's
threads neither share the stack's GIL nor cost more CPU than sending a request takes.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.harness import Environment, Result, Scenario, http, option
from bench.harness.machine import machine_ticks
from bench.report import summary

if TYPE_CHECKING:
    import argparse

FUNCTION = "GetContentFunction"


# -- the learners: one process, one thread, asyncio ---------------------------------------------------------------


async def _learner(url: str, token: str, go: asyncio.Event) -> tuple[int, dict[str, Any], float]:
    parts = urllib.parse.urlsplit(url)
    request = (
        f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    await go.wait()
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(request)
    raw = await reader.read()  # Connection: close: the answer ends with the connection
    took_ms = (time.perf_counter() - started) * 1000
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body or b"{}"), took_ms


async def _burst(url: str, tokens: list[str]) -> tuple[list[tuple[int, dict[str, Any], float]], float]:
    """The answers, and the CPU seconds this process spent from the burst's start to its last answer."""
    go = asyncio.Event()
    learners = [asyncio.ensure_future(_learner(url, token, go)) for token in tokens]
    await asyncio.sleep(0.1)  # every learner waiting on the event: the barrier
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    before = os.times()
    go.set()
    answers = list(await asyncio.gather(*learners))
    after = os.times()
    return answers, (after.user + after.system) - (before.user + before.system)


def client_main(url: str) -> None:
    """The client process: tokens on stdin, ``ready`` when every learner waits, the burst on the next line."""
    tokens: list[str] = json.loads(sys.stdin.readline())
    answers, cpu_s = asyncio.run(_burst(url, tokens))
    sys.stdout.write(json.dumps(answers) + "\n")
    sys.stdout.write(json.dumps({"cpu_s": cpu_s}) + "\n")


# -- CPU per process, from /proc ----------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _role(pid: int, environments: dict[int, str]) -> str:
    if pid == os.getpid():
        return "stack process (front, pollers, log subscriptions)"
    if pid in environments:
        return f"{environments[pid]} environments"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except FileNotFoundError:
        return "other"
    if "java" in command:
        return "DynamoDB Local"
    if "moto_server" in command:
        return "moto server"
    return "other"


@dataclass
class Run:
    answers: list[tuple[int, dict[str, Any], float]]
    wall_s: float
    cpu_s: dict[str, float]
    generations: Any
    misses_counted: Any
    misses_made: int  # the burst's 202s and those of the polling that waits for the content
    job_statuses: dict[str, Any]
    busy_cores: float  # the machine's cores busy during the burst (/proc/stat), whoever used them
    load_average: float  # the machine's 1-minute load average right after the burst


class _Learners:
    """The client process, started with its tokens: every learner connected to nothing yet, waiting for ``go``."""

    def __init__(self, url: str, tokens: list[str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"from bench.stampede import client_main; client_main({url!r})"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        self.stdin.write(json.dumps(tokens) + "\n")
        self.stdin.flush()
        if self.stdout.readline().strip() != "ready":
            raise RuntimeError("the client did not start")

    def go(self) -> tuple[list[tuple[int, dict[str, Any], float]], float]:
        """The burst's answers, and the client's CPU seconds during it."""
        self.stdin.write("go\n")
        self.stdin.flush()
        answers = [(int(s), dict(b), float(ms)) for s, b, ms in json.loads(self.stdout.readline())]
        cpu_s = float(json.loads(self.stdout.readline())["cpu_s"])
        self.process.wait()
        return answers, cpu_s


def _content_url(base: str, kind: str, topic: str) -> str:
    query = {"kind": kind, "subject": "Statistics", "topic": topic}
    query |= {"question_type": "numeric"} if kind == "question_set" else {"grade": "9"}
    return base + "/v1/content?" + urllib.parse.urlencode(query)


def _wait_served(url: str, token: str, latency: float) -> int:
    """Ask until the content is served; returns the misses this made (each 202 is a miss, counted as any)."""
    deadline, misses = time.monotonic() + 60 + latency * 3, 0
    while time.monotonic() < deadline and http.get(url, token)[0] != 200:
        misses += 1
        time.sleep(0.2)
    return misses


def run(clients: int, latency: float, provisioned: int, *, warm_up: int = 0) -> Run:
    """One burst on a fresh stack; ``warm_up`` learners first miss another key (a lesson) together, the same path
    as the burst's (one job, the rest join), and the stack settles before the measured burst."""
    from pregen_tools import tokens as dev_tokens

    options = {"extra_env": {"MODEL_LATENCY": f"fixed:{latency:g}"}, "provisioned": {FUNCTION: provisioned}}
    with Environment("emulator", in_process=True, stack_options=options) as local:
        stack, state = local.stack, local.state
        if warm_up:
            warm_url = _content_url(state["url"], "lesson", "Mode")
            warm_tokens = [dev_tokens.mint(f"warm-up-{i}") for i in range(warm_up)]
            _Learners(warm_url, warm_tokens).go()
            _wait_served(warm_url, warm_tokens[0], latency)
            time.sleep(2.0)  # its usage lines delivered, the worker idle again
        url = _content_url(state["url"], "question_set", "Median")
        tokens = [dev_tokens.mint(f"stampede-{i}") for i in range(clients)]
        learners = _Learners(url, tokens)
        environments = {env.process.pid: pool.spec.logical_id for pool in stack.pools for env in [*pool.idle]}
        time.sleep(1.0)
        pids = _children(os.getpid()) - {learners.process.pid}
        before = {pid: _cpu_seconds(pid) for pid in pids | {os.getpid()}}
        machine_before = machine_ticks()
        started = time.perf_counter()
        answers, client_cpu = learners.go()
        wall_s = time.perf_counter() - started
        machine_after, load_average = machine_ticks(), os.getloadavg()[0]
        pids |= _children(os.getpid()) - {learners.process.pid}
        after = {pid: _cpu_seconds(pid) for pid in pids | {os.getpid()}}
        for pool in stack.pools:  # the environments started during the burst too
            for env in pool.idle:
                environments[env.process.pid] = pool.spec.logical_id
        cpu: dict[str, float] = {"client process (all learners)": client_cpu}
        for pid, seconds in after.items():
            role = _role(pid, environments)
            cpu[role] = cpu.get(role, 0.0) + seconds - before.get(pid, 0.0)
        # Wait for the job, then read the counters (admin analytics) once the miss lines have been delivered.
        polled = _wait_served(url, tokens[0], latency)
        admin = dev_tokens.mint("stampede-ops", "admin")
        misses = sum(1 for status, _, _ in answers if status == 202) + polled
        deadline = time.monotonic() + 15
        while True:
            time.sleep(1)  # let any duplicate delivery finish, and the log subscription deliver
            _, figures = http.get(state["url"] + "/v1/analytics", admin)
            if figures.get("missesByKind", {}).get("question_set") == misses or time.monotonic() > deadline:
                break
        job_ids = {body["job_id"] for status, body, _ in answers if status == 202}
        job_statuses = {
            job_id: http.get(state["url"] + f"/v1/jobs/{job_id}", tokens[0])[1].get("status") for job_id in job_ids
        }
        return Run(
            answers=answers,
            wall_s=wall_s,
            cpu_s=cpu,
            generations=figures.get("generatedByKind", {}).get("question_set"),
            misses_counted=figures.get("missesByKind", {}).get("question_set"),
            misses_made=misses,
            job_statuses=job_statuses,
            busy_cores=(machine_after[0] - machine_before[0]) / os.sysconf("SC_CLK_TCK") / wall_s,
            load_average=load_average,
        )


def _row(name: str, clients: int, result: Run) -> tuple[str, bool]:
    statuses: dict[int, int] = {}
    by_job: dict[str, int] = {}
    for status, body, _ in result.answers:
        statuses[status] = statuses.get(status, 0) + 1
        if status == 202:
            by_job[body["job_id"]] = by_job.get(body["job_id"], 0) + 1
    misses = summary([ms for status, _, ms in result.answers if status == 202])
    cpu_ms = sum(result.cpu_s.values()) / clients * 1000
    final = ", ".join(sorted({str(s) for s in result.job_statuses.values()}))
    row = (
        f"| {name} | {', '.join(f'{s}: {n}' for s, n in sorted(statuses.items()))} "
        f"| {len(by_job)} ({', '.join(map(str, by_job.values()))}) | {final} | {result.generations} "
        f"| {result.misses_counted} of {result.misses_made} | {misses['p50']:.0f} / {misses['p99']:.0f} "
        f"| {result.wall_s:.2f} | {cpu_ms:.1f} | {sum(result.cpu_s.values()) / result.wall_s:.2f} "
        f"| {result.busy_cores:.2f} | {result.load_average:.1f} |"
    )
    ok = (
        result.generations == 1
        and set(result.job_statuses.values()) == {"done"}
        and set(statuses) <= {200, 202}
        and result.misses_counted == result.misses_made
    )
    return row, ok


def run_scenario(args: argparse.Namespace) -> Result:
    from aws_emulator.stack import DEFAULT_CONCURRENCY as N

    runs = {
        f"{N} environments provisioned, after a warm-up burst": run(
            args.clients, args.latency, N, warm_up=args.warm_up
        ),
        f"{N} environments provisioned, fresh stack": run(args.clients, args.latency, N),
        f"1 environment warm, {N - 1} cold, fresh stack": run(args.clients, args.latency, 1),
    }
    rows, ok = [], True
    for name, result in runs.items():
        row, good = _row(name, args.clients, result)
        rows.append(row)
        ok = ok and good
    cpu_table = []
    for name, result in list(runs.items())[:2]:
        total = sum(result.cpu_s.values())
        cpu_table.append(f"| **{name}**: all processes | {total:.2f} | {total / args.clients * 1000:.1f} |")
        cpu_table += [
            f"| {role} | {seconds:.2f} | {seconds / args.clients * 1000:.1f} |"
            for role, seconds in sorted(result.cpu_s.items(), key=lambda kv: -kv[1])
            if seconds >= 0.005
        ]
    text = "\n".join(
        [
            f"Command: `.venv/bin/python -m bench stampede --clients {args.clients} --write`",
            "",
            f"{args.clients} learners ask for the same uncached question set at the same instant, through the local "
            f"HTTP front; the generator takes {args.latency:g} s. The learners are one asyncio client in a process "
            "of its own, each on a new connection opened inside the timed part; the latency is from the burst's "
            f"start to each answer. Each run is a fresh stack with get-content's {N} environments started with it "
            f"(provisioned concurrency's analogue: `make run` with `--provisioned {FUNCTION}={N}`), or only one, "
            f"the other {N - 1} cold-starting during the burst. The warm-up: {args.warm_up} other learners first miss "
            "one other key (a lesson) together, the same path (one job, the rest join), and the stack settles; the "
            "processes' code paths and DynamoDB Local's JIT are then warm, as in a stack that has been serving. "
            "Nothing is switched off: pollers, stream and log subscriptions run as always. *misses counted* is "
            "analytics' `missesByKind.question_set`, from the miss lines the log subscription delivered, against the "
            "misses made (the burst's 202s, and those of one learner asking until the content is served); they "
            "must be equal. *Cores used by the run*: the CPU of every process of the run over the burst's time; "
            f"*cores busy on the machine*: from /proc/stat, whoever used them (the machine has {os.cpu_count()}, "
            "shared with other engineers' work); *load*: the 1-minute load average right after the burst.",
            "",
            "| run | HTTP statuses | distinct jobs (learners per job) | jobs' final status | generations "
            "| misses counted | miss (202) p50 / p99 ms | burst s | CPU ms per learner, all processes "
            "| cores used by the run | cores busy on the machine | load |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"CPU during the burst by process (from /proc; the machine has {os.cpu_count()} cores, so the burst "
            "lasts at least the total CPU over the cores):",
            "",
            "| process | CPU s | CPU ms per learner |",
            "|---|---|---|",
            *cpu_table,
        ]
    )
    figures = {name: {"wall_s": result.wall_s, "generations": result.generations} for name, result in runs.items()}
    return Result(text, args.command, figures, sections={"stampede": "## Stampede\n\n" + text}, ok=ok)


SCENARIO = Scenario(
    "stampede",
    __doc__,
    run_scenario,
    options=(
        option("--clients", type=int, default=200),
        option("--latency", type=float, default=2.0, help="seconds the generator takes"),
        option("--warm-up", type=int, default=400, help="learners missing another key before the burst"),
    ),
)
