"""API errors and their OpenAI envelope ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)  # not frozen: the interpreter and context managers set attributes on exceptions
class ApiError(Exception):
    """An error answer. ``cause`` is internal (never rendered): it lets quirks pick the errors they change.

    Treat instances as immutable; quirks derive changed copies with ``dataclasses.replace``.
    """

    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None
    cause: str = (
        "request"  # auth | json | validation | model | context | rate_limit | not_found | quirk | ...
    )
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None  # a complete non-OpenAI body, used as is (quirks only)

    def __str__(self) -> str:
        return f"{self.status} {self.message}"

    def envelope(self) -> dict[str, Any]:
        if self.body is not None:
            return dict(self.body)
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def invalid(message: str, param: str | None, code: str | None = None, cause: str = "validation") -> ApiError:
    return ApiError(400, message, param=param, code=code, cause=cause)


def missing_key() -> ApiError:
    return ApiError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header "
        "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
        "username) if you're accessing the API from your browser and are prompted for a username and "
        "password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
        cause="auth",
    )


def wrong_key(key: str) -> ApiError:
    shown = key[:3] + "*" * min(max(len(key) - 7, 0), 30) + key[-4:] if len(key) > 8 else "*" * len(key)
    return ApiError(
        401,
        f"Incorrect API key provided: {shown}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
        cause="auth",
    )


def model_not_found(model: str) -> ApiError:
    return ApiError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
        cause="model",
    )


def chat_model_on_completions(model: str) -> ApiError:
    """A chat model asked on /v1/completions: OpenAI's 404, param model, code null (quoted in
    hegelai/prompttools#115 and RomanHotsiy/commitgpt#43)."""
    return ApiError(
        404,
        "This is a chat model and not supported in the v1/completions endpoint. Did you mean to use "
        "v1/chat/completions?",
        param="model",
        cause="model",
    )


def not_a_chat_model(model: str) -> ApiError:
    """A Completions model asked on /v1/chat/completions: OpenAI's 404, param model, code null (quoted in
    egoist/chatwise-releases#1256; HTTP 404 in SciSharp/BotSharp#959)."""
    return ApiError(
        404,
        "This is not a chat model and thus not supported in the v1/chat/completions endpoint. Did you mean to use "
        "v1/completions?",
        param="model",
        cause="model",
    )


def rate_limited(retry_after: int, limit: float) -> ApiError:
    return ApiError(
        429,
        f"Rate limit reached for requests: limit {limit:g} requests per second. Please try again in "
        f"{retry_after}s.",
        type="requests",
        code="rate_limit_exceeded",
        cause="rate_limit",
        headers={"Retry-After": str(retry_after)},
    )
