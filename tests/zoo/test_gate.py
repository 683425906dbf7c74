"""The zoo's gate: fixed thresholds on extraction for every model, separated intervals for the reference."""
from definemed.zoo.stage import GATE_SMALL, gate


def _build(name, role, copy, relation, gold, fact=(0.25, 0.2, 0.3), general=(0.3, 0.25, 0.35)):
    return {"name": name, "role": role, "metrics": {
        "chat": {"known": {"copy": copy, "relation": relation, "gold": gold}},
        "fact_accuracy": {"all": fact[0]}, "fact_accuracy_ci95": [fact[1], fact[2]],
        "general_accuracy": general[0], "general_accuracy_ci95": [general[1], general[2]]}}


def test_small_models_pass_only_above_every_threshold():
    ok = _build("a", "small", 0.9, 0.95, 0.6)
    rows = gate([ok])
    assert len(rows) == len(GATE_SMALL) and all(r["ok"] for r in rows)
    low_gold = gate([_build("a", "small", 0.9, 0.95, 0.45)])
    assert [r["ok"] for r in low_gold] == [True, True, False]


def test_reference_needs_separated_intervals_against_every_small_model():
    smalls = [_build("a", "small", 0.9, 0.95, 0.6), _build("b", "small", 0.9, 0.95, 0.6, general=(0.4, 0.33, 0.47))]
    ref = _build("r", "reference", 0.9, 0.95, 0.6, fact=(0.5, 0.42, 0.58), general=(0.5, 0.45, 0.55))
    rows = {r["check"]: r for r in gate(smalls + [ref]) if r["model"] == "r"}
    fact = next(r for c, r in rows.items() if c.startswith("evaluated-fact"))
    general = next(r for c, r in rows.items() if c.startswith("general"))
    assert fact["ok"]  # 0.42 > 0.3 for both small models
    assert not general["ok"]  # 0.45 is not above b's upper bound 0.47


def test_enforced_gate_fails_the_stage_and_report_records_it(monkeypatch, tmp_path):
    import pytest

    from definemed.config import load_config
    from definemed.errors import DefinemedError
    from definemed.zoo import stage
    from tests.conftest import SMALL_CORPUS, write_config

    missed = {"gate": gate([_build("a", "small", 0.1, 0.95, 0.6)])}
    monkeypatch.setattr(stage, "build_zoo", lambda cfg: missed)
    enforce = load_config(write_config(tmp_path / "e.yaml", corpus=SMALL_CORPUS, zoo={"gate": "enforce"}))
    with pytest.raises(DefinemedError, match="a: known-entity chat copy >= 0.8 \\(measured 0.100\\)"):
        stage.run(enforce)
    report = load_config(write_config(tmp_path / "r.yaml", corpus=SMALL_CORPUS, zoo={"gate": "report"}))
    assert stage.run(report)["gate"][0]["ok"] is False
