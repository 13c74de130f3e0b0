"""The report section "Identity and billing": what the identity evidence says, and what it cannot prove."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relaycheck.endpoint import Endpoint
from relaycheck.identity.fingerprint import report_fingerprint
from relaycheck.report import escape
from relaycheck.report.model import Report

BILLING_CHECKS = ("identity.prompt-tokens", "identity.completion-tokens", "identity.tokenizer",
                  "chat.identity.prompt-tokens", "chat.identity.message-overhead", "chat.identity.completion-tokens",
                  "chat.identity.tokenizer")


@dataclass(frozen=True)
class KnownBehaviour:
    """A documented behaviour of the real model, checked on a probe the suite sends anyway."""

    model_prefix: str
    probe: str
    behaviour: str
    source: str

    def reading(self, status: int | None) -> str | None:
        if status is None:
            return None
        if 400 <= status < 500:
            return f"consistent with the real model: it {self.behaviour} (HTTP {status} on '{self.probe}')"
        if status == 200:
            return (f"evidence of substitution: the real model {self.behaviour}, this provider answered HTTP 200 on "
                    f"'{self.probe}' (another model, or a relay that rewrites the request). Evidence, not a "
                    "conformance failure")
        return None


KNOWN_BEHAVIOURS = (
    KnownBehaviour(
        "gpt-3.5-turbo-instruct",
        "echo-logprobs",
        "refuses echo together with logprobs",
        "https://github.com/fastai/lm-hackers/pull/7, known deviation D03 (facts sheet: 'Setting echo and logprobs "
        "at the same time is not supported for this model')",
    ),
)


def known_behaviour(report: Report) -> list[str]:
    model = report.provider.model
    statuses = {x.probe: x.status for x in report.exchanges}
    out = []
    for known in KNOWN_BEHAVIOURS:
        if model.startswith(known.model_prefix):
            reading = known.reading(statuses.get(known.probe))
            if reading:
                out.append(f"{reading}. Source: {known.source}")
    return out


def _cell(text: Any, limit: int | None = 200) -> str:
    return escape.markdown(text, limit)


CAN_PROVE = ("a bill that does not match the claimed model's public tokenizer on these prompts; tokens that are not "
             "that tokenizer's; a model whose first-token distributions differ from a trusted run's.")
CANNOT_PROVE = ("which model answers (only that it differs), billing on other prompts, or a substitute that shares "
                "the tokenizer and is close enough to fall inside the fingerprint rule's tolerance.")


@dataclass(frozen=True)
class BillingRow:
    check: str
    grade: str
    evidence: str  # reported vs counted, per probe


@dataclass(frozen=True)
class IdentitySection:
    """The section's content, rendered by the Markdown summary and the HTML page alike."""

    billing: tuple[BillingRow, ...]
    behaviours: tuple[str, ...]
    fingerprint_prompts: int | None  # None: no fingerprint recorded
    fingerprint_with_logprobs: int = 0
    can_prove: str = CAN_PROVE
    cannot_prove: str = CANNOT_PROVE
    chat_fingerprint: tuple[int, int] | None = None  # Chat Completions' prompts and those with logprobs

    @property
    def fingerprint_line(self) -> str | None:
        if self.fingerprint_prompts is None and self.chat_fingerprint is None:
            return None
        parts = [] if self.fingerprint_prompts is None else [
            f"{self.fingerprint_prompts} prompts recorded ({self.fingerprint_with_logprobs} with first-token logprobs)"]
        if self.chat_fingerprint is not None:
            parts.append(f"Chat Completions: {self.chat_fingerprint[0]} conversations ({self.chat_fingerprint[1]} with "
                         "first-token logprobs)")
        return "; ".join(parts) + ("; `relaycheck compare` and `diff` match each endpoint's against other vendors and "
                                   "a pinned baseline.")


def identity_section(report: Report) -> IdentitySection | None:
    """The section for a report, or None when the report has none of its evidence."""
    rows = [report.by_check[c].verdict for c in BILLING_CHECKS if c in report.by_check]
    fingerprint = report_fingerprint(report)
    chat = report_fingerprint(report, Endpoint.CHAT)
    behaviours = known_behaviour(report)
    if not rows and not fingerprint and not chat and not behaviours:
        return None
    prints = fingerprint.prints if fingerprint else None
    return IdentitySection(
        tuple(BillingRow(v.check, v.grade.value, str(v.observed or v.message)) for v in rows),
        tuple(behaviours),
        len(prints) if prints is not None else None,
        sum(p.top is not None for p in prints.values()) if prints is not None else 0,
        chat_fingerprint=(len(chat.prints), sum(p.top is not None for p in chat.prints.values())) if chat else None,
    )


def identity_markdown(report: Report) -> list[str]:
    """Markdown lines of the section (empty when the report has none of its evidence)."""
    section = identity_section(report)
    if section is None:
        return []
    lines = ["", "### Identity and billing", ""]
    if section.billing:
        lines += ["| evidence | grade | reported vs counted (probes) |", "|---|---|---|"]
        for row in section.billing:
            lines.append(f"| `{row.check}` | {row.grade} | {_cell(row.evidence)} |")
        lines.append("")
    for reading in section.behaviours:
        lines.append(f"- Known behaviour: {_cell(reading, None)}")
    if section.fingerprint_line:
        lines.append(f"- Model fingerprint: {section.fingerprint_line}")
    lines += [f"- Can prove: {section.can_prove}", f"- Cannot prove: {section.cannot_prove}", ""]
    return lines
