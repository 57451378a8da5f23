"""Domain errors. Handlers map them to HTTP status codes in one place (pregen.http.api)."""

from __future__ import annotations


class PregenError(Exception):
    """Base class of every error the domain raises on purpose."""


class InvalidRequest(PregenError):
    """The caller asked for something that cannot exist (400)."""


class NotFound(PregenError):
    """No such resource, or not one the caller may see (404: we do not reveal others' resources)."""


class Forbidden(PregenError):
    """The caller is known but lacks the role (403)."""


class Conflict(PregenError):
    """The resource kept changing under a conditional write; the caller may retry (409)."""


class SpendingError(PregenError):
    """A failure that may still have cost money: the tokens billed before it failed are carried along."""

    spent_usd: float = 0.0
    spent_tokens: int = 0
    calls: int = 0  # model calls made before it failed (re-asks and the SDK's retries), against the job's cap

    def spent(self, usd: float, tokens: int) -> SpendingError:
        self.spent_usd, self.spent_tokens = usd, tokens
        return self


class ContentInvalid(SpendingError):
    """Generated content failed validation after every allowed attempt."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class GenerationFailed(SpendingError):
    """The generator could not produce content (provider error, refusal, truncation)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class LeaseHeld(PregenError):
    """Another worker holds a live lease on the key; this delivery must not generate it again. ``until``: when the
    lease ends (None: not known)."""

    def __init__(self, message: str, *, until: float | None = None) -> None:
        super().__init__(message)
        self.until = until


class RateLimited(PregenError):
    """The caller used up a spend allowance (429). Names the limit and when it frees up; amounts in microdollars."""

    def __init__(
        self,
        limit: str,
        *,
        allowed: int,
        window_seconds: int,
        retry_after: int,
        action: str,
        cost: int = 0,
        remaining: int = 0,
    ) -> None:
        super().__init__(
            f"spend allowance {limit!r} used up: this request would cost about ${cost / 1e6:,.4f} and "
            f"${remaining / 1e6:,.4f} of ${allowed / 1e6:,.4f} per {window_seconds} s is left"
        )
        self.limit = limit
        self.allowed = allowed
        self.window_seconds = window_seconds
        self.retry_after = max(1, retry_after)
        self.action = action
        self.cost = cost
        self.remaining = remaining


class TooManyVotes(PregenError):
    """A learner cast more votes in a minute than allowed (429 with ``Retry-After``)."""

    def __init__(self, per_minute: int, *, retry_after: int) -> None:
        super().__init__(f"at most {per_minute} votes a minute: try again in {max(1, retry_after)} s")
        self.per_minute = per_minute
        self.retry_after = max(1, retry_after)


class SpendCeilingReached(PregenError):
    """Today's model spend reached the operator's daily ceiling (503): no new generation starts until the next UTC
    day (``retry_after`` seconds); hits are still served."""

    def __init__(self, *, ceiling_usd: float, spent_usd: float, retry_after: int, action: str) -> None:
        super().__init__(
            f"today's model spend (${spent_usd:,.2f}) has reached the daily ceiling (${ceiling_usd:,.2f}): "
            "no new generation starts until the next day (UTC); content already generated is served as usual"
        )
        self.ceiling_usd = ceiling_usd
        self.spent_usd = spent_usd
        self.retry_after = max(1, retry_after)
        self.action = action


class OverAllowance(PregenError):
    """The request costs more than a whole window of the caller's allowance (422): no wait would let it through,
    so the answer says so instead of a 429 whose Retry-After could never be enough. Amounts in microdollars."""

    def __init__(self, message: str, *, limit: str, cost: int, allowed: int, window_seconds: int, action: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.cost = cost
        self.allowed = allowed
        self.window_seconds = window_seconds
        self.action = action


class KeyUnavailable(GenerationFailed):
    """The model's API key is configured (an SSM parameter) but could not be read: a missing or empty parameter, a
    KMS or IAM denial, a throttled read. Retryable, and no model call was made: the job fails closed (it comes back,
    then dead-letters with this reason) instead of storing offline placeholder content."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


class ProviderThrottled(GenerationFailed):
    """The model provider still answered 429 (rate limit) or 529 (overloaded) after the SDK's own retries.

    The worker delays the job instead of failing the delivery, so throttling never burns receive counts."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, retryable=True)
        self.retry_after = retry_after
