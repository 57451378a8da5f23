"""Who may run the inventory top-up over HTTP (POST /v1/cron/run): an admin's JWT, or the cron secret.

That route has no JWT authorizer in front of it (a secret is not a JWT, and the authorizer would refuse it), so
this checks the caller itself: ``Bearer <secret>`` compared in constant time with the secret (SSM in AWS, the
environment locally), else ``Bearer <JWT>`` verified against the issuer's JWKS (signature, expiry, issuer,
audience) and required to carry the admin role in the role claim (``ROLE_CLAIM``, read as every API function reads
it). Anything else is 401; a valid non-admin token is 403.
"""

from __future__ import annotations

import hmac
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.exceptions import UnauthorizedError

from pregen.domain.models import Caller, Role
from pregen.http.api import caller_from_claims, require_role

if TYPE_CHECKING:
    from pregen.config.functions import TriggerSettings

CRON_CALLER = Caller(sub="cron-secret", role=Role.ADMIN)


def _secret(settings: TriggerSettings) -> str | None:
    if settings.cron_secret:
        return settings.cron_secret
    if settings.cron_secret_parameter:
        from aws_lambda_powertools.utilities.parameters import get_parameter

        try:
            value = get_parameter(settings.cron_secret_parameter, decrypt=True, max_age=300)
        except Exception:  # no such parameter: only admin JWTs are accepted
            return None
        return str(value) if value else None
    return None


# The issuer's key set is fetched at most once per JWKS_LIFESPAN_S (cached), and a token naming an unknown key id
# forces a refetch at most once per JWKS_COOLDOWN_S (PyJWT's cooldown): a caller sending made-up key ids to this
# unauthenticated route cannot make the function fetch JWKS on every request. A rotated-in key is picked up
# within the cooldown.
JWKS_LIFESPAN_S = 3600
JWKS_COOLDOWN_S = 300
JWKS_TIMEOUT_S = 5


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> Any:
    import jwt

    return jwt.PyJWKClient(
        url, cache_keys=True, lifespan=JWKS_LIFESPAN_S, cooldown_duration=JWKS_COOLDOWN_S, timeout=JWKS_TIMEOUT_S
    )


def authorize_trigger(authorization: str | None, settings: TriggerSettings) -> Caller:
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise UnauthorizedError("send Authorization: Bearer <admin JWT or cron secret>")
    secret = _secret(settings)
    if secret and hmac.compare_digest(token.encode(), secret.encode()):
        return CRON_CALLER
    import jwt

    try:
        key = _jwks_client(settings.jwks_url).get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iss", "sub"], "verify_aud": False},  # checked below, per token type
        )
    except jwt.PyJWTError as exc:
        raise UnauthorizedError("the token is neither the cron secret nor a valid JWT") from exc
    if not _for_us(claims, settings.jwt_audience):
        raise UnauthorizedError("the token was issued for another client")
    caller = caller_from_claims(claims, settings.role_claim)  # decoded claims keep their types: lists stay lists
    require_role(caller, Role.ADMIN)
    return caller


def _for_us(claims: dict[str, Any], audience: str) -> bool:
    """As the HTTP API's JWT authorizer checks it: an ID token names the client in ``aud`` (a string or a list);
    a Cognito access token has no ``aud`` and names it in ``client_id``."""
    if claims.get("token_use") == "access" and not claims.get("aud"):
        return claims.get("client_id") == audience
    aud = claims.get("aud")
    return aud == audience or (isinstance(aud, list) and audience in aud)
