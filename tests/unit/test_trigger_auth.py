"""POST /v1/cron/run has no authorizer: a JWT-shaped token with a made-up key id must not make the function fetch
the issuer's JWKS on every request (issue 28 item 8)."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from aws_lambda_powertools.event_handler.exceptions import UnauthorizedError
from cryptography.hazmat.primitives.asymmetric import rsa

from pregen.config.functions import TriggerSettings
from pregen.http import trigger_auth

if TYPE_CHECKING:
    from collections.abc import Iterator

ISSUER = "https://issuer.example.com/pool"
SETTINGS = TriggerSettings.model_validate(
    {"JWT_ISSUER": ISSUER, "JWT_AUDIENCE": "client", "CRON_SECRET": "s3cret-for-tests"}
)


@pytest.fixture
def fetches(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The issuer's JWKS (one key, ``issuer-key``), counting every fetch; and PyJWT's monotonic clock, moved by
    the test."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwt.PyJWK.from_dict(
        {**jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "issuer-key", "alg": "RS256"}
    )
    state: dict[str, Any] = {"count": 0, "now": 1_000.0, "key": key}

    class Opener:  # the HTTP fetch of the JWKS (PyJWT's own fetch_data, caching and cooldown run as in Lambda)
        def open(self, request: Any, timeout: float) -> io.BytesIO:
            assert request.full_url == f"{ISSUER}/.well-known/jwks.json"
            state["count"] += 1
            return io.BytesIO(json.dumps({"keys": [jwk._jwk_data]}).encode())

    monkeypatch.setattr("jwt.jwks_client.urllib.request.build_opener", lambda *handlers: Opener())
    monkeypatch.setattr("jwt.jwks_client.time.monotonic", lambda: state["now"])
    monkeypatch.setattr("jwt.jwk_set_cache.time.monotonic", lambda: state["now"], raising=False)
    trigger_auth._jwks_client.cache_clear()
    yield state
    trigger_auth._jwks_client.cache_clear()


def token(key: Any, kid: str) -> str:
    claims = {"sub": "someone", "iss": ISSUER, "aud": "client", "exp": 4_102_444_800, "cognito:groups": ["admin"]}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def test_unknown_key_ids_fetch_the_jwks_at_most_once_per_cooldown(fetches: dict[str, Any]) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # When 20 tokens arrive, each naming a key id the issuer never had
    for i in range(20):
        with pytest.raises(UnauthorizedError):
            trigger_auth.authorize_trigger(f"Bearer {token(stranger, f'made-up-{i}')}", SETTINGS)
    # Then the key set was fetched once (the first lookup), not once per token
    assert fetches["count"] == 1
    # And a real admin token is still verified from the cached set, without another fetch
    assert trigger_auth.authorize_trigger(f"Bearer {token(fetches['key'], 'issuer-key')}", SETTINGS).is_admin
    assert fetches["count"] == 1
    # Nor a minute later (PyJWT's own default cooldown is 30 s: ours is longer)
    fetches["now"] += 60
    with pytest.raises(UnauthorizedError):
        trigger_auth.authorize_trigger(f"Bearer {token(stranger, 'a-minute-later')}", SETTINGS)
    assert fetches["count"] == 1
    # Once the cooldown has passed, an unknown key id may refetch (a rotated-in key is found), once
    fetches["now"] += trigger_auth.JWKS_COOLDOWN_S
    for i in range(5):
        with pytest.raises(UnauthorizedError):
            trigger_auth.authorize_trigger(f"Bearer {token(stranger, f'later-{i}')}", SETTINGS)
    assert fetches["count"] == 2


def test_the_cron_secret_never_fetches_the_jwks(fetches: dict[str, Any]) -> None:
    assert trigger_auth.authorize_trigger("Bearer s3cret-for-tests", SETTINGS) is trigger_auth.CRON_CALLER
    with pytest.raises(UnauthorizedError):
        trigger_auth.authorize_trigger("Bearer not-a-jwt-and-not-the-secret", SETTINGS)
    assert fetches["count"] == 0
