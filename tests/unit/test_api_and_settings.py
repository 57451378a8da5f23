"""The caller's identity from JWT claims, the error mapping, and configuration that fails loudly."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.event_handler.exceptions import UnauthorizedError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from pregen.config.base import SettingsError, forget
from pregen.config.settings import ServeSettings
from pregen.config.worker import WorkerSettings
from pregen.domain.models import Kind, Role
from pregen.http.api import build_resolver, caller_from_claims, current_caller
from pregen.wiring.identity import role_claim


@pytest.mark.parametrize(
    ("claims", "role"),
    [
        ({"sub": "a"}, Role.STUDENT),
        ({"sub": "a", "cognito:groups": "[teacher]"}, Role.TEACHER),
        # HTTP API hands a list claim over as "[a b]"; decoded tokens (the cron trigger's) keep the list
        ({"sub": "a", "cognito:groups": "[teachers admin]"}, Role.ADMIN),
        ({"sub": "a", "cognito:groups": ["teachers", "admin"]}, Role.ADMIN),
        ({"sub": "a", "cognito:groups": "teacher"}, Role.TEACHER),
        ({"sub": "a", "cognito:groups": "[student superuser]"}, Role.STUDENT),
        # a free-text claim is one name, never split: a comma does not make an admin
        ({"sub": "a", "cognito:groups": "student,admin"}, Role.STUDENT),
        ({"sub": "a", "cognito:groups": "student admin"}, Role.STUDENT),
        # claims a user may write (Cognito custom attributes) or that no provider promises are not roles
        ({"sub": "a", "custom:role": "admin"}, Role.STUDENT),
        ({"sub": "a", "role": "admin"}, Role.STUDENT),
        ({"sub": "a", "custom:role": "student,admin", "cognito:groups": "[student]"}, Role.STUDENT),
    ],
)
def test_roles_come_from_cognito_groups_only(claims: dict[str, Any], role: Role) -> None:
    assert caller_from_claims(claims, "cognito:groups").role is role


def test_the_role_claim_can_name_another_providers_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a deployment whose identity provider states roles in "https://idp.example/roles"
    claims = {"sub": "a", "https://idp.example/roles": "[admin]", "cognito:groups": "[teacher]"}
    monkeypatch.setenv("ROLE_CLAIM", "https://idp.example/roles")
    forget()
    resolver = build_resolver(role_claim)
    resolver.current_event = APIGatewayProxyEventV2({"requestContext": {"authorizer": {"jwt": {"claims": claims}}}})
    try:
        # Then that claim, and only it, gives the caller's role
        assert current_caller(resolver).role is Role.ADMIN
        assert caller_from_claims(claims, "cognito:groups").role is Role.TEACHER
    finally:
        forget()


def test_a_token_without_subject_is_unauthorized() -> None:
    with pytest.raises(UnauthorizedError):
        caller_from_claims({"cognito:groups": "[admin]"}, "cognito:groups")


def test_missing_resource_names_fail_at_cold_start_naming_them() -> None:
    with pytest.raises(SettingsError) as caught:
        ServeSettings.from_env({"CONTENT_TABLE": "content"})
    message = str(caught.value)
    assert "JOBS_TABLE" in message
    assert "INTERACTIVE_QUEUE_URL" in message


def test_worker_settings_pick_models_and_ttls_per_kind() -> None:
    settings = WorkerSettings.from_env(
        {
            "CONTENT_TABLE": "c-t",
            "JOBS_TABLE": "j-t",
            "COUNTERS_TABLE": "n-t",
            "INTERACTIVE_QUEUE_URL": "https://sqs/interactive",
            "BACKGROUND_QUEUE_URL": "https://sqs/background",
            "CONTENT_TTL_DAYS_BY_KIND": '{"exam": 7}',
            "MODEL_BY_KIND": '{"lesson": "claude-opus-5-5"}',
        }
    )
    assert settings.ttl_days(Kind.EXAM) == 7
    assert settings.ttl_days(Kind.LESSON) == 30
    assert settings.model_for(Kind.LESSON) == "claude-opus-5-5"
    assert settings.model_for(Kind.EXAM) == settings.model_large
    assert settings.model_for(Kind.QUESTION_SET) == settings.model_small


@pytest.mark.parametrize("issuer", ["https://cognito-idp.eu-west-1.amazonaws.com/pool", "https://issuer.test/"])
def test_the_jwks_url_follows_the_issuer_without_a_doubled_slash(issuer: str) -> None:
    from pregen.config.functions import TriggerSettings

    settings = TriggerSettings.model_validate({"JWT_ISSUER": issuer, "JWT_AUDIENCE": "pregen"})
    assert settings.jwks_url == issuer.rstrip("/") + "/.well-known/jwks.json"
    assert "//.well-known" not in settings.jwks_url
    explicit = TriggerSettings.model_validate(
        {"JWT_ISSUER": issuer, "JWT_AUDIENCE": "pregen", "JWT_JWKS_URL": "http://127.0.0.1:3000/.well-known/jwks.json"}
    )
    assert explicit.jwks_url == "http://127.0.0.1:3000/.well-known/jwks.json"
