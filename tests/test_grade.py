"""Grade presentation lives on Grade: every report, summary and front-end reads it from there."""

from __future__ import annotations

from relaycheck.checks.model import Grade


def test_every_grade_has_an_icon_and_a_place() -> None:
    assert len({g.icon for g in Grade}) == len(Grade)
    assert sorted(Grade, key=lambda g: g.order)[:3] == [Grade.FAIL, Grade.ERROR, Grade.WARN]
    assert sorted(Grade, key=lambda g: g.order)[-1] is Grade.PASS


def test_rank_orders_regressions_and_skipped_has_none() -> None:
    ranked = [Grade.PASS, Grade.KNOWN, Grade.WARN, Grade.ERROR, Grade.FAIL]
    assert [g.rank for g in ranked] == sorted(g.rank for g in ranked)  # type: ignore[type-var]
    assert Grade.KNOWN.rank == Grade.UNSUPPORTED.rank
    assert Grade.SKIPPED.rank is None


def test_what_blocks_what_is_judged_what_is_recorded() -> None:
    assert {g for g in Grade if g.blocks} == {Grade.FAIL, Grade.ERROR}
    assert {g for g in Grade if not g.judged} == {Grade.SKIPPED, Grade.ERROR}
    assert {g for g in Grade if g.deviation} == {Grade.FAIL, Grade.WARN, Grade.UNSUPPORTED, Grade.ERROR}
    assert {g for g in Grade if g.bad} == {Grade.FAIL, Grade.ERROR, Grade.WARN}
    assert {g for g in Grade if not g.notable} == {Grade.PASS, Grade.SKIPPED}
    assert {g.test_outcome for g in Grade} == {"passed", "failed", "error", "skipped"}
