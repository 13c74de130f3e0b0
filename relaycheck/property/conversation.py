"""Conversations in valid role order, written from whatever messages a generator drew.

schemathesis draws each message on its own, so about half of its positive chat bodies break an x-rule of the
contract (``openapi/chat.yaml``'s header measures it): a tool message that answers no call, or an assistant's call
left unanswered. :func:`in_role_order` repairs a drawn list the cheap way, keeping every message it can:

- a tool message that answers a call of the assistant message its run follows is kept;
- one that answers an id no call has, while calls are still unanswered, is given the first unanswered id;
- one that follows no assistant message with calls is dropped;
- calls still unanswered when the run ends get a short tool message each, right after the run;
- assistant calls beyond :data:`MAX_TOOLS`, and repeated call ids, are dropped first.

The result is then cut to at most ``limit`` messages at a point where no call is left unanswered (a group of an
assistant message and its answers is kept whole or not at all); None when not even the first message fits.
:func:`tool_choice_declared` points a named tool choice at a declared tool. Pure functions over JSON values.
"""

from __future__ import annotations

import copy
from typing import Any

MAX_MESSAGES = 3  # messages a chat case sends at most
MAX_TOOLS = 2  # tools a chat case declares at most, and calls in one assistant message
ANSWER = "ok"  # the content of a tool message written to answer a call


def _calls(message: Any) -> list[Any]:
    calls = message.get("tool_calls") if isinstance(message, dict) and message.get("role") == "assistant" else None
    return calls if isinstance(calls, list) else []


def _call_id(call: Any) -> str | None:
    value = call.get("id") if isinstance(call, dict) else None
    return value if isinstance(value, str) else None


def _trimmed(message: Any) -> Any:
    """An assistant message with at most MAX_TOOLS calls of distinct ids (other messages as they are)."""
    calls = _calls(message)
    if not calls:
        return message
    kept, seen = [], set()
    for call in calls:
        if _call_id(call) not in seen and len(kept) < MAX_TOOLS:
            seen.add(_call_id(call))
            kept.append(call)
    return {**message, "tool_calls": kept}


def _answer(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": ANSWER}


def in_role_order(messages: list[Any], limit: int = MAX_MESSAGES) -> list[Any] | None:
    """``messages`` repaired to valid role order and cut to at most ``limit`` (see the module); None when empty."""
    out: list[Any] = []
    ends: list[int] = []  # lengths of ``out`` at which no call is unanswered
    pending: list[str] = []

    def close_run() -> None:
        out.extend(_answer(i) for i in pending)
        pending.clear()

    for message in map(_trimmed, copy.deepcopy(messages)):
        if isinstance(message, dict) and message.get("role") == "tool":
            if not pending:
                continue  # answers no call: dropped
            if message.get("tool_call_id") not in pending:
                message = {**message, "tool_call_id": pending[0]}
            pending.remove(message["tool_call_id"])
            out.append(message)
            continue
        close_run()
        ends.append(len(out))
        out.append(message)
        pending.extend(i for c in _calls(message) if (i := _call_id(c)) is not None)
    close_run()
    ends.append(len(out))
    cut = max((n for n in ends if n <= limit), default=0)
    return out[:cut] or None


def tool_choice_declared(body: dict[str, Any]) -> None:
    """A named tool_choice (or allowed_tools list) names declared function tools: the first declared one when the
    name is not, and no tool_choice at all when no function tool is declared."""
    names = [t["function"]["name"] for t in body.get("tools") or [] if isinstance(t, dict)
             and t.get("type") == "function" and isinstance(t.get("function"), dict)
             and isinstance(t["function"].get("name"), str)]
    choice = body.get("tool_choice")
    if not isinstance(choice, dict):
        return
    if not names:
        del body["tool_choice"]
        return
    if choice.get("type") == "function" and isinstance(choice.get("function"), dict):
        if choice["function"].get("name") not in names:
            body["tool_choice"] = {**choice, "function": {**choice["function"], "name": names[0]}}
    elif choice.get("type") == "allowed_tools" and isinstance(choice.get("allowed_tools"), dict):
        allowed = choice["allowed_tools"]
        entries = [e for e in allowed.get("tools") or [] if isinstance(e, dict)]
        fixed = [{**e, "type": "function", "function": {**(e.get("function") or {}), "name": names[0]}}
                 if (e.get("type"), (e.get("function") or {}).get("name")) not in {("function", n) for n in names}
                 else e for e in entries]
        body["tool_choice"] = {**choice, "allowed_tools": {**allowed, "tools": fixed or [
            {"type": "function", "function": {"name": names[0]}}]}}
