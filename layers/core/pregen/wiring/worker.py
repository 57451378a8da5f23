"""The worker: content jobs (and their Message Batches), exam sections, and the generator they share."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from pregen.adapters.content import DynamoContentStore
from pregen.adapters.counters import DynamoCounters
from pregen.adapters.erasures import DynamoErasures
from pregen.adapters.jobs import DynamoJobStore
from pregen.config.base import load
from pregen.config.worker import WorkerSettings
from pregen.domain.clock import SystemClock
from pregen.domain.errors import PregenError
from pregen.observability import logger
from pregen.wiring import clients
from pregen.wiring.cache import once
from pregen.wiring.priming import in_init
from pregen.wiring.serve import lanes

if TYPE_CHECKING:
    from pregen.adapters.generators.claude import AnthropicGenerator
    from pregen.adapters.near import DynamoNearStore
    from pregen.ports import ContentStore, Counters, Generator, Judge, SectionGenerator
    from pregen.services.batches import BatchDeps
    from pregen.services.course_generation import CourseWorkerDeps
    from pregen.services.exam_generation import ExamWorkerDeps
    from pregen.services.generation import WorkerDeps
    from pregen.services.near import NearDeps


def read_parameter_key(parameter: str) -> str:
    """The key held by an SSM SecureString, read afresh (it is read until it reads, then kept by the generator);
    raises when it cannot be read (Powertools' ``GetParameterError``)."""
    from aws_lambda_powertools.utilities.parameters import get_parameter

    return str(get_parameter(parameter, decrypt=True, force_fetch=True))


def make_generator(settings: WorkerSettings) -> Generator:
    """Claude when a key is configured; offline content only when none is configured at all.

    * ``ANTHROPIC_API_KEY`` (local runs): Claude with it.
    * ``ANTHROPIC_API_KEY_PARAMETER`` (AWS): Claude with the parameter's key. A parameter that cannot be read now (a
      missing or empty parameter, a KMS denial, a throttled read) fails closed: ``KeyedGenerator`` reads it again on
      each call and, until it reads, fails the job as retryable and emits ``AnthropicKeyUnreadable``.
    * neither: the offline generator, said loudly once per container; its content is marked ``generator: offline``.
    """
    if settings.anthropic_api_key:
        return _claude(settings, settings.anthropic_api_key)
    parameter = settings.anthropic_api_key_parameter
    if not parameter:
        from pregen.adapters.generators.offline import OfflineGenerator

        if in_init():  # once, at the container's cold start (outside any record's log keys)
            logger.warning(
                "NO ANTHROPIC KEY CONFIGURED: the offline generator writes placeholder content (marked generator: "
                "offline); set the AnthropicApiKeyParameter template parameter to generate with Claude"
            )
        return OfflineGenerator(latency=settings.model_latency, model_for=settings.model_for)
    from pregen.adapters.generators.keyed import KeyedGenerator

    keyed = KeyedGenerator(parameter, lambda: read_parameter_key(parameter), lambda key: _claude(settings, key))
    try:
        return keyed.resolved()
    except PregenError:
        return keyed  # fails closed on each call until the key reads


def _claude(settings: WorkerSettings, api_key: str) -> AnthropicGenerator:
    from pregen.adapters.generators.claude import AnthropicGenerator
    from pregen.domain.pricing import default_prices

    return AnthropicGenerator(
        api_key=api_key.strip(),
        model_for=settings.model_for,
        prices=default_prices(),
        max_attempts=settings.max_generation_attempts,
        base_url=settings.anthropic_base_url,
        step_model=settings.model_for,
        judge_model=settings.model_small,
    )


@once
def worker_deps() -> WorkerDeps:
    from pregen.adapters.finish import DynamoGenerationWrites
    from pregen.adapters.library import DynamoLibraryStore
    from pregen.services.generation import WorkerDeps

    s = load(WorkerSettings)
    client = clients.dynamodb()
    store = DynamoContentStore(s.content_table, client)
    counters = DynamoCounters(s.counters_table, client)
    generator = make_generator(s)
    library = DynamoLibraryStore(s.content_table, client)
    jobs = DynamoJobStore(s.jobs_table, s.job_ttl_days, client)
    erasures = DynamoErasures(s.counters_table, client)
    near = _near(s, generator, store, counters)
    near_store = cast("DynamoNearStore", near.near) if near is not None else None
    writes = DynamoGenerationWrites(
        client, store=store, jobs=jobs, counters=counters, erasures=erasures, library=library, near=near_store
    )
    return WorkerDeps(
        library=library,
        store=store,
        jobs=jobs,
        counters=counters,
        generator=generator,
        clock=SystemClock(),
        queue=lanes(s),
        policy=s,
        erasures=erasures,
        near=near,
        writes=writes,
    )


def _near(s: WorkerSettings, generator: Generator, store: ContentStore, counters: Counters) -> NearDeps | None:
    """Near-duplicates' search and judge (issue 33), unless NEAR_DUPLICATES is off; the judge is the generator's
    (Claude's small tier, or the offline stand-in)."""
    judge = getattr(generator, "judge_same", None)
    if not s.near_duplicates or judge is None:
        return None
    from pregen.adapters.near import DynamoNearStore
    from pregen.services.near import NearDeps

    return NearDeps(
        near=DynamoNearStore(s.content_table, clients.dynamodb()),
        judge=cast("Judge", generator),
        store=store,
        counters=counters,
        alias_ttl_days=s.alias_ttl_days,
    )


@once
def batch_deps() -> BatchDeps | None:
    """Message Batches for the background lane: only with BATCH_BACKGROUND and a generator that speaks the Batches
    API (Claude; the offline generator has none). Shares the worker's deps, so results are stored the same way."""
    from pregen.adapters.generators.offline import OfflineGenerator

    worker = worker_deps()
    if not load(WorkerSettings).batch_background or isinstance(worker.generator, OfflineGenerator):
        return None  # the offline generator has no Batches API (and the Anthropic SDK stays unimported)
    from pregen.adapters.generators.claude import AnthropicGenerator

    if not isinstance(worker.generator, AnthropicGenerator):
        return None
    from pregen.adapters.batches import DynamoBatchStore
    from pregen.services.batches import BatchDeps
    from pregen.services.course_generation import settle_batched_judgement, settle_batched_part

    s = load(WorkerSettings)
    return BatchDeps(
        worker=worker,
        generator=worker.generator,
        batches=DynamoBatchStore(s.jobs_table, s.job_ttl_days, clients.dynamodb()),
        queue=worker.queue,
        course_parts=lambda job, settled: settle_batched_part(job, settled, course_worker_deps()),
        # Background courses' alignment judgements, claimed on their course and kept with it.
        courses=course_worker_deps().courses,
        judgements=lambda message, generation: settle_batched_judgement(message, generation, course_worker_deps()),
        exams=exam_worker_deps(),  # exam top-ups' sections go in the batches too
    )


def section_writer(generator: Generator) -> SectionGenerator:
    """Who writes exam sections, for the content generator ``make_generator`` built: the offline generator writes
    them itself; Claude's gets their own prompt and schema (``claude_sections``). Any other generator has none."""
    from pregen.adapters.generators.keyed import KeyedGenerator
    from pregen.adapters.generators.offline import OfflineGenerator

    if isinstance(generator, OfflineGenerator | KeyedGenerator):
        return generator
    from pregen.adapters.generators.claude import AnthropicGenerator
    from pregen.adapters.generators.claude_sections import ClaudeSectionWriter

    if isinstance(generator, AnthropicGenerator):
        return ClaudeSectionWriter(generator)
    raise TypeError(f"the {generator.name} generator cannot write exam sections")


@once
def exam_worker_deps() -> ExamWorkerDeps:
    """The worker's section jobs: the content worker's generator and counters, plus the exams table."""
    from pregen.adapters.exams import DynamoExamInventory
    from pregen.config.functions import ExamSettings
    from pregen.domain.programs import default_catalogue
    from pregen.services.exam_generation import ExamWorkerDeps

    s = load(ExamSettings)
    content = worker_deps()
    return ExamWorkerDeps(
        inventory=DynamoExamInventory(
            s.exams_table, DynamoCounters(s.counters_table, clients.dynamodb()), clients.dynamodb()
        ),
        generator=section_writer(content.generator),
        counters=content.counters,
        clock=content.clock,
        catalogue=default_catalogue(),
        policy=s,
        erasures=content.erasures,
    )


@once
def course_worker_deps() -> CourseWorkerDeps:
    """The worker's course plan and part jobs: the content worker's deps (parts are generated on its path), its
    generator as the planner, and the courses in the exams table."""
    from pregen.adapters.courses import DynamoCourseStore
    from pregen.config.functions import CourseSettings
    from pregen.services.course_generation import CourseWorkerDeps

    s = load(CourseSettings)
    content = worker_deps()
    return CourseWorkerDeps(
        courses=DynamoCourseStore(s.exams_table, clients.dynamodb()),
        content=content,
        planner=content.generator,  # type: ignore[arg-type]
        policy=s,
        judge=content.generator if hasattr(content.generator, "judge_alignment") else None,  # type: ignore[arg-type]
        # A background course's judgements go through Message Batches where its parts do (Claude's Batches API).
        batch_judgements=load(WorkerSettings).batch_background and hasattr(content.generator, "alignment_question"),
    )
