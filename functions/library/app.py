"""library: the versions of shared content, learners' votes on them, and regeneration by teachers."""

from http import HTTPStatus
from typing import Annotated, Any, Literal, TypedDict

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pregen.domain.errors import NotFound
from pregen.domain.library import VoteReason
from pregen.domain.models import Role
from pregen.domain.text import PROSE, PROSE_NOT_BLANK, check_prose
from pregen.http.api import answer, build_resolver, current_caller, json_response, require_role
from pregen.http.caching import (
    CACHE_HEADERS,
    NOT_MODIFIED,
    cached_json,
    etag_of,
    held,
    if_none_match,
    not_modified,
    version_cacheable,
)
from pregen.http.presenters import (
    AcceptedJobBody,
    VersionContentBody,
    VersionsBody,
    VoteResultBody,
    accepted_job_body,
    job_location,
    version_content_body,
    versions_body,
    vote_body,
)
from pregen.observability import logger, metrics
from pregen.services.near import revoke_alias
from pregen.services.voting import cast_vote, list_versions, read_version, request_regeneration
from pregen.wiring.identity import role_claim
from pregen.wiring.library import library_deps
from pregen.wiring.priming import prime

app = build_resolver(role_claim)
prime(library_deps)  # in init: settings, clients and service models, not in the first request

ContentId = Annotated[
    str, Path(min_length=50, max_length=120, pattern=r"^[a-z0-9]+-[a-z_]+-[0-9a-f]{40}\.[0-9a-f]{12}$")
]


class VoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vote: Literal["up", "down"]
    comment: str | None = Field(
        default=None,
        max_length=1000,
        json_schema_extra={"pattern": PROSE},
        description="for people to read; never sent to the model",
    )
    reason: VoteReason | None = Field(
        default=None, description="what is wrong (a down vote): only the counts per reason reach the model"
    )

    @field_validator("comment", mode="before")
    @classmethod
    def _comment(cls, value: Any) -> Any:
        return check_prose(value) if isinstance(value, str) else value

    @field_validator("comment")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return (value or "").strip() or None


class RegenerateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=3,
        max_length=1000,
        json_schema_extra={"pattern": PROSE_NOT_BLANK},
        description="what is wrong with the served version; the model is shown it quoted, as data it must not obey"
        " as instructions (tab and newline allowed)",
    )

    @field_validator("reason", mode="before")
    @classmethod
    def _reason(cls, value: Any) -> Any:
        return check_prose(value, not_blank=True) if isinstance(value, str) else value

    @field_validator("reason")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


@app.get(
    "/v1/content/<content_id>",
    responses={
        200: answer(
            "The version's body and figures, which never change (another learner's personal content: 404)",
            VersionContentBody,
            CACHE_HEADERS,
        ),
        304: NOT_MODIFIED,
    },
)
def get_version(content_id: ContentId) -> Any:
    deps = library_deps()
    condition = if_none_match(app)
    # The ETag is the id: whether the client holds this version is known before its body is read, never before
    # the caller may see it (another learner's personal version is a 404, held or not).
    read = read_version(content_id, current_caller(app), deps, held=held(condition, etag_of(content_id)))
    cacheable = version_cacheable(content_id, read.version.owner, read.version.expires_at, deps.serve.clock.now())
    if read.content is None:
        return not_modified(cacheable)
    return cached_json(version_content_body(read.version, read.content), cacheable, condition)


@app.get("/v1/content/<content_id>/versions", responses={200: answer("The key's versions, best first", VersionsBody)})
def get_versions(content_id: ContentId) -> Any:
    listing = list_versions(content_id, current_caller(app), library_deps())
    return json_response(HTTPStatus.OK, versions_body(listing.key, listing.versions, listing.key_hits))


@app.post("/v1/content/<content_id>/votes", responses={200: answer("The vote as recorded", VoteResultBody)})
def post_vote(content_id: ContentId, vote: Annotated[VoteBody, Body()]) -> Any:
    outcome = cast_vote(content_id, current_caller(app), vote.vote, vote.comment, library_deps(), reason=vote.reason)
    if outcome.changed:
        metrics.add_metric(name=f"Vote_{vote.vote}", unit=MetricUnit.Count, value=1)
    logger.info("vote", content_id=content_id, vote=vote.vote, changed=outcome.changed)
    return json_response(HTTPStatus.OK, vote_body(content_id, outcome))


@app.post(
    "/v1/content/<content_id>/regenerate",
    responses={202: answer("The job making the new version (Location: the job)", AcceptedJobBody)},
)
def post_regenerate(content_id: ContentId, request: Annotated[RegenerateBody, Body()]) -> Any:
    caller = current_caller(app)
    require_role(caller, Role.TEACHER)
    job, joined = request_regeneration(
        content_id, caller, request.reason, library_deps(), correlation_id=logger.get_correlation_id()
    )
    metrics.add_metric(name="Regenerate", unit=MetricUnit.Count, value=1)
    logger.info("regeneration", content_id=content_id, job_id=job.job_id, joined=joined)
    return json_response(HTTPStatus.ACCEPTED, accepted_job_body(job, joined), {"Location": job_location(job.job_id)})


class RevokedAliasBody(TypedDict):
    """A revoked alias: the wording's key goes back to generation; the content it pointed at is untouched."""

    key: str
    target: str


ContentKey = Annotated[str, Path(min_length=40, max_length=100, pattern=r"^[a-z0-9]+-[a-z_]+-[0-9a-f]{40}$")]


@app.delete(
    "/v1/aliases/<key>",
    responses={200: answer("The alias is gone: its wording is generated on its next miss", RevokedAliasBody)},
)
def delete_alias(key: ContentKey) -> Any:
    """Admins: withdraw a near-duplicate's verified alias (issue 33)."""
    require_role(current_caller(app), Role.ADMIN)
    near = library_deps().serve.near
    if near is None:
        raise NotFound("near-duplicates are off (NEAR_DUPLICATES)")
    target = revoke_alias(key, near, library_deps().serve.clock.now())
    metrics.add_metric(name="AliasRevoked", unit=MetricUnit.Count, value=1)
    return json_response(HTTPStatus.OK, RevokedAliasBody(key=key, target=target))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
