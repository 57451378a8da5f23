"""Cold start: the import time of each handler module, each in a fresh process, against `import boto3` alone,
measured interleaved in one run (the init phase is billed, and the serving path must stay lean).

    .venv/bin/python -m bench cold_start [--runs 15] [--write]
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bench.harness import Result, Scenario, option
from bench.report import DOC, percentile, ratio_chart, summary

if TYPE_CHECKING:
    import argparse

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = "import boto3 (the reference)"
MODULES = {
    REFERENCE: "boto3",
    # What the libraries alone cost, before any of our code: the floor of an API function and of the worker.
    "floor of an API function: boto3 + pydantic + Powertools resolver with validation": (
        "boto3, pydantic.main, aws_lambda_powertools.metrics, aws_lambda_powertools.event_handler.openapi.params, "
        "aws_lambda_powertools.event_handler.middlewares.openapi_validation"
    ),
    "floor of the worker: boto3 + pydantic + Powertools batch": (
        "boto3, pydantic.main, aws_lambda_powertools.metrics, aws_lambda_powertools.utilities.batch"
    ),
    "get-content": "functions.get_content.app",
    "pre-generate": "functions.pre_generate.app",
    "analytics": "functions.analytics.app",
    "cron": "functions.cron.app",
    "library": "functions.library.app",
    "exams": "functions.exams.app",
    "warm": "functions.warm.app",
    "navigation": "functions.navigation.app",
    "usage-aggregator": "functions.usage_aggregator.app",
    "worker": "functions.worker.app",
    "worker + anthropic SDK (first Claude call)": "functions.worker.app, pregen.adapters.generators.claude",
}
ENV = {
    "CONTENT_TABLE": "content",
    "JOBS_TABLE": "jobs",
    "COUNTERS_TABLE": "counters",
    "INTERACTIVE_QUEUE_URL": "https://sqs/i",
    "BACKGROUND_QUEUE_URL": "https://sqs/b",
    "INTERACTIVE_DLQ_URL": "https://sqs/id",
    "BACKGROUND_DLQ_URL": "https://sqs/bd",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "pregen",
}


PYTHONPATH = os.pathsep.join([str(ROOT), str(ROOT / "layers" / "core")])


def _without_bytecode_switch(environ: os._Environ[str] | dict[str, str]) -> dict[str, str]:
    # Any non-empty PYTHONDONTWRITEBYTECODE (even "0") stops Python writing .pyc files, and a module whose .pyc is
    # missing or stale would then be compiled from source in every sample.
    return {k: v for k, v in environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def compile_bytecode() -> None:
    """Compile our code and the installed packages once, as a deployed package ships them (sam build's pip
    install writes .pyc files for the dependencies; ours are compiled here the same way)."""
    packages = [p for p in sys.path if p.endswith("-packages")]
    folders = [str(ROOT / "functions"), str(ROOT / "layers" / "core"), *packages]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *folders],
        env=_without_bytecode_switch(os.environ),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def import_ms(modules: str) -> float:
    code = f"import time; t = time.perf_counter(); import {modules}; print((time.perf_counter() - t) * 1000)"
    env = {**_without_bytecode_switch(os.environ), **ENV, "PYTHONPATH": PYTHONPATH}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def paired_order(run: int) -> list[tuple[str, str]]:
    """The modules other than the reference, in an order that rotates from run to run."""
    others = [(name, modules) for name, modules in MODULES.items() if name != REFERENCE]
    shift = run % len(others)
    return others[shift:] + others[:shift]


def run(args: argparse.Namespace) -> Result:
    compile_bytecode()
    for modules in MODULES.values():  # warm the file cache once
        import_ms(modules)
    reference = MODULES[REFERENCE]
    samples: dict[str, list[float]] = {name: [] for name in MODULES}
    paired: dict[str, list[float]] = {name: [] for name in MODULES if name != REFERENCE}
    for run in range(args.runs):
        for name, modules in paired_order(run):
            # Each module is timed right next to its own `import boto3`, in alternating order: this shared machine
            # switches between a fast and a slow state (about 1.35x apart) every few seconds, and a ratio of two
            # adjacent samples is taken in one state, where a ratio of two medians may mix the two.
            first, second = (modules, reference) if run % 2 else (reference, modules)
            a, b = import_ms(first), import_ms(second)
            module_ms, boto3_ms = (a, b) if run % 2 else (b, a)
            samples[name].append(module_ms)
            samples[REFERENCE].append(boto3_ms)
            paired[name].append(module_ms / boto3_ms)
    results = {name: summary(values) for name, values in samples.items()}
    ratio = {name: percentile(values, 50) for name, values in paired.items()}
    lines = [
        f"Command: `.venv/bin/python -m bench cold_start --runs {args.runs} --write`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; each figure is "
        "the time to import the module in a fresh process (bytecode already compiled). Each sample of a module is "
        "paired with an `import boto3` taken right before or after it; the ratio is the median of those paired "
        "ratios, the honest figure on a machine whose speed drifts. The p50 columns are for scale.",
        "",
        "| module | p50 ms | min ms | ratio to import boto3 (median of paired samples) |",
        "|---|---|---|---|",
    ]
    for name, figures in results.items():
        shown = "1.00x (the reference)" if name == REFERENCE else f"{ratio[name]:.2f}x"
        lines.append(f"| {name} | {figures['p50']:.0f} | {min(samples[name]):.0f} | {shown} |")
    api_floor, worker_floor = (ratio[n] for n in list(MODULES)[1:3])
    lines += [
        "",
        f"The floors are the libraries alone: {api_floor:.2f}x for an API function and {worker_floor:.2f}x for the "
        f"worker before a line of Pregen runs; Pregen's own modules add {ratio['get-content'] - api_floor:+.2f}x to "
        f"get-content and {ratio['worker'] - worker_floor:+.2f}x to the worker. The Anthropic SDK is imported with "
        "the first Claude call only.",
    ]
    text = "\n".join(lines)
    chart = ""
    if args.write:
        chart_ratios = {name.split(":")[0]: r for name, r in ratio.items() if "anthropic" not in name}
        title = "import time vs import boto3 (median of paired ratios)"
        chart = "\n\n" + ratio_chart(DOC.parent / "cold-start.png", title, chart_ratios, target=2.0)
    return Result(
        text, args.command, {"ratio_to_boto3": ratio}, sections={"cold_start": "## Cold start\n\n" + text + chart}
    )


SCENARIO = Scenario("cold_start", __doc__, run, options=(option("--runs", type=int, default=15),))
