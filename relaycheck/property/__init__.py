"""Property tests generated from the OpenAPI contract with schemathesis, within what a paying user can afford.

:func:`record_property_phase` is what the engine runs after the hand-written probes (same client, same budget);
:func:`run_property_tests` runs the phase alone and returns :class:`Finding` objects. The checks that grade the
recorded exchanges live in :mod:`relaycheck.checks.property`.
"""

from relaycheck.property.runner import (
    DEFAULT_SEED,
    PLAN_PROBE,
    SEED_ENV,
    Finding,
    PropertyPlan,
    default_seed,
    parse_probe_id,
    probe_id,
    record_property_phase,
    run_property_tests,
)

__all__ = [
    "DEFAULT_SEED",
    "PLAN_PROBE",
    "SEED_ENV",
    "Finding",
    "PropertyPlan",
    "default_seed",
    "parse_probe_id",
    "probe_id",
    "record_property_phase",
    "run_property_tests",
]
