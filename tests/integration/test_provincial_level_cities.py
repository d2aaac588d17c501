"""计划单列市 through the ledger (rule 2, rule 7): a Dalian enterprise's 专精特新 is decided by
Dalian (210200) on its district's recommendation and shows in the pool at provincial level;
Liaoning's attempts are refused with nothing written; a little giant is recommended by
Dalian to MIIT; a move from Dalian to Huludao is re-confirmed by Liaoning.  The pure
aggregate tests: tests/unit/test_provincial_level_cities.py."""

from __future__ import annotations

from infra.readmodel import ReadModel
from tests.support.journeys import designate, enterprise_actor, file_yearly_data, refusal, register
from tests.support.ledgers import uscc

DALIAN, JINZHOU, LIAONING, MIIT = "210200", "210213", "210000", "000000"


def test_dalian_decides_and_liaoning_is_refused_on_a_ledger(script) -> None:
    u = uscc(1, JINZHOU)
    register(script, u, on="2020-01-10")
    d = designate(script, u, "specialized", on="2022-07-01")  # the journey asks the programme: Dalian decides
    assert d.decider == DALIAN
    s = d.state(script)
    assert (s.status, s.level, s.recommendations) == ("approved", "provincial", {"municipal": JINZHOU})
    err = script.refused("revoke", uscc=u, application_id=d.application_id, reason="other", effective_on="2023-01-05",
                         occurred_on="2023-01-05", actor=LIAONING, document="辽工信发〔2023〕1号")
    assert refusal(err) == ("authority.not_covering", "authority", "actor.authority")
    assert "计划单列市" in err.message

    # the little giant: Dalian recommends to MIIT, Liaoning may not
    lg = designate(script, u, "little_giant", on="2023-02-01", until="applied")
    err = script.refused("recommend", uscc=u, application_id=lg.application_id, occurred_on="2023-02-10",
                         actor=LIAONING)
    assert refusal(err) == ("recommend.not_covering", "authority", "actor.authority")
    script.ok("recommend", uscc=u, application_id=lg.application_id, occurred_on="2023-02-10", actor=DALIAN)
    assert script.ledger.enterprise(u).applications[lg.application_id].recommendations == {"provincial": DALIAN}

    rm = ReadModel(script.ledger)
    try:
        pool = rm.pool(tier="specialized", level="provincial", region=DALIAN, as_of="2023-07-11")
        assert [r.uscc for r in pool] == [u]
    finally:
        rm.close()


def test_a_move_from_dalian_to_huludao_is_reconfirmed_by_liaoning(script) -> None:
    u = uscc(2, JINZHOU)
    register(script, u, on="2020-01-10")
    d = designate(script, u, "specialized", on="2022-07-01")
    file_yearly_data(script, u, 2022, "2023-03-01")
    script.ok("report_change", uscc=u, programme="national", kind="relocation", changed_on="2023-05-01",
              new_region="211402", occurred_on="2023-06-01", actor=enterprise_actor(script, u))
    assert script.ledger.enterprise(u).applications[d.application_id].under_reconfirmation
    err = script.refused("reconfirm", uscc=u, application_id=d.application_id, confirmed=True,
                         occurred_on="2023-06-20", actor=DALIAN, document="大工信函〔2023〕9号")
    assert refusal(err) == ("authority.not_covering", "authority", "actor.authority")
    script.ok("reconfirm", uscc=u, application_id=d.application_id, confirmed=True, occurred_on="2023-06-20",
              actor=LIAONING, document="辽工信函〔2023〕90号")
    a = script.ledger.enterprise(u).applications[d.application_id]
    assert not a.under_reconfirmation and a.ended_on is None
