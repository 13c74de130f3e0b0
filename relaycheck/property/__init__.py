"""Property tests generated from the OpenAPI contract with schemathesis, within what a paying user can afford.

:func:`record_property_phase` is what the engine runs after the hand-written probes (same client, same budget),
with the cases of the run's :class:`CaseCache` (drawn once for every provider that asks for the same ones);
:mod:`relaycheck.property.plan` holds what the phase, its checks and the engine share. The checks that grade the
recorded exchanges live in :mod:`relaycheck.checks.property`.
"""

from relaycheck.property.cases import CaseCache, CaseKey
from relaycheck.property.phase import prefetch, record_property_phase
from relaycheck.property.plan import (
    DEFAULT_SEED,
    PLAN_PROBE,
    SEED_ENV,
    PropertyPlan,
    default_seed,
    is_plan,
    parse_probe_id,
    plan_probe,
    probe_id,
    worst_case_requests,
)

__all__ = [
    "CaseCache",
    "CaseKey",
    "DEFAULT_SEED",
    "PLAN_PROBE",
    "SEED_ENV",
    "PropertyPlan",
    "default_seed",
    "is_plan",
    "parse_probe_id",
    "plan_probe",
    "prefetch",
    "probe_id",
    "record_property_phase",
    "worst_case_requests",
]
