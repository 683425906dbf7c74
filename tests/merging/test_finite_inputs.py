"""Merge refuses a NaN / Inf input tensor by name (one line, exit 1) and writes nothing."""
from __future__ import annotations

import pytest

from tests.test_finite import poison

from .conftest import slices_cfg, write_yaml


@pytest.mark.parametrize("pair, value", [("llama_pair", float("nan")), ("qwen_pair", float("inf"))])
def test_merge_refuses_a_non_finite_input_tensor(request, tmp_path, capsys, pair, value):
    from definemed.cli import main

    base, other = request.getfixturevalue(pair)
    name = "model.layers.2.mlp.up_proj.weight"
    bad = poison(other, tmp_path / "bad", name, value)
    cfg = write_yaml(tmp_path / "m.yaml", slices_cfg(base, bad, 0.5))
    with pytest.raises(SystemExit) as e:
        main(["merge", str(cfg), str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert e.value.code == 1 and err.count("\n") == 1
    assert f"tensor {name} has non-finite values" in err and str(bad) in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "m.yaml"]  # no output, no temporary folder
    # t = 0 copies the base only, and still refuses the other model's NaN
    cfg0 = write_yaml(tmp_path / "m0.yaml", slices_cfg(base, bad, 0.0))
    with pytest.raises(SystemExit):
        main(["merge", str(cfg0), str(tmp_path / "out"), "--quiet"])
    assert name in capsys.readouterr().err
