"""Roles and content (feature ``chat.messages``): the message forms the definition allows are served.

A conversation may open with a ``system`` or a ``developer`` message, a user message may carry a ``name``, and any
content may be an array of text parts (``CreateChatCompletionRequest.messages``: oneOf the developer, system, user,
assistant, tool and function messages; each content a string or an array of content parts). Relays and servers
refuse them in two ways, told apart in the verdict: a clean 4xx (a chat template or a request struct that does not
know the form, docs/deviations.md D65, D68) and a 500 (the template's exception passed through, D62).
"""

from __future__ import annotations

from relaycheck.checks.model import Fail, Level, Outcome, Pass, Recorded, check, error_envelope, snippet
from relaycheck.endpoint import Endpoint

CHAT = Endpoint.CHAT
FEATURE = f"{CHAT.prefix}messages"
SPEC = "openai-openapi@f85dbe22 CreateChatCompletionRequest.messages"


def served(r: Recorded, probe: str, what: str) -> Outcome:
    """``probe`` (a valid request using ``what``) answered with a chat completion; else why not, plainly."""
    ex = r.exchange(probe)
    observed = f"HTTP {ex.status}: {snippet(ex.text, 200)}"
    if ex.status is not None and ex.status >= 500:
        return Fail(f"{what} fails with a server error: a role or template error answered {ex.status}",
                    "HTTP 200 (a valid request)", observed, probe)
    if ex.status is not None and 400 <= ex.status < 500 and error_envelope(ex) is not None:
        return Fail(f"{what} is refused, though the definition allows it", "HTTP 200 (a valid request)", observed,
                    probe)
    choices = r.choices(probe)  # any other answer: the shape and error checks say what it is
    return Pass(f"served: {len(choices)} choice(s)")


@check(
    "chat.messages.system",
    title="a system message before the user's is served",
    clause=f"{SPEC}: ChatCompletionRequestSystemMessage {{role: system, content}}",
    level=Level.MUST,
    feature=FEATURE,
    probes=(CHAT.probe_id("system"),),
    fails_on=("system-role-500",),
    deviations=("D62",),
)
def system(r: Recorded) -> Outcome:
    return served(r, "system", "a system message")


@check(
    "chat.messages.developer",
    title="a developer message (the system role of newer models) is served",
    clause=f"{SPEC}: ChatCompletionRequestDeveloperMessage {{role: developer, content}}; OpenAI: \"For GPT-4o, if "
    "you happen to use developer messages, they will auto-convert to system messages\" "
    "(community.openai.com/t/1062784)",
    level=Level.MUST,
    feature=FEATURE,
    probes=(CHAT.probe_id("developer"),),
    fails_on=("developer-role-refused",),
    deviations=("D68", "D62"),
)
def developer(r: Recorded) -> Outcome:
    return served(r, "developer", "a developer message")


@check(
    "chat.messages.name",
    title="a user message with a name is served",
    clause=f'{SPEC}: ChatCompletionRequestUserMessage.name: "An optional name for the participant"',
    level=Level.MUST,
    feature=FEATURE,
    probes=(CHAT.probe_id("name"),),
    fails_on=("name-refused",),
    deviations=("D68",),
)
def name(r: Recorded) -> Outcome:
    return served(r, "name", "a message's name")


@check(
    "chat.messages.content-parts",
    title="user content given as an array of text parts is served",
    clause=f"{SPEC}: ChatCompletionRequestUserMessage.content: a string or an array of content parts "
    "(ChatCompletionRequestMessageContentPartText {type: text, text})",
    level=Level.MUST,
    feature=FEATURE,
    probes=(CHAT.probe_id("content-parts"),),
    fails_on=("content-parts-rejected",),
    deviations=("D65", "D62"),
)
def content_parts(r: Recorded) -> Outcome:
    return served(r, "content-parts", "content as an array of text parts")


CHECKS = (system, developer, name, content_parts)
