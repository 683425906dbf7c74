"""Stage 06 with servers it owns: a fake `vllm` executable on PATH (definemed.evaluation.fake_vllm, a
tiny HF folder behind vLLM's routes) is started per variant, scores through lm-eval's
`local-completions` (prompt log-probs) and answers the win-rate questions; the numbers equal the HF
backend's on the same model, and nothing is left running."""
import os
import socket
import stat
import subprocess
import sys
import time

import pandas as pd
import pytest

from definemed.config import load_config
from definemed.errors import DefinemedError
from definemed.evaluation import backends, serving
from definemed.evaluation.models import Variant
from tests.conftest import SMALL_CORPUS, write_config
from tests.evaluation.test_stage import EVAL, MODELS, _general_token_file, _place_models


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fake_vllm(tmp_path, monkeypatch):
    """An executable named `vllm` first on PATH that runs the fake server (and logs each call)."""
    import definemed

    bindir = tmp_path / "bin"
    bindir.mkdir()
    src = os.path.dirname(os.path.dirname(definemed.__file__))
    exe = bindir / "vllm"
    exe.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'vllm_calls.txt'}\n"
                   f"PYTHONPATH={src} exec {sys.executable} -m definemed.evaluation.fake_vllm \"$@\"\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path / "vllm_calls.txt"


def _cfg(tmp_path, tiny_model_dir, **extra):
    ev = {**EVAL, "num_fewshot": [0], "formats": ["cloze"], "heldout_sentences": False, "general_n_questions": 0,
          "winrate_n_questions": 3, "max_test_per_task": 3, "mmlu_subjects": ["anatomie"], **extra}
    path = write_config(tmp_path / "eval.yaml", corpus=SMALL_CORPUS, evaluate=ev, models=MODELS)
    c = load_config(path)
    _place_models(c, tiny_model_dir)
    return c


def test_managed_servers_score_and_answer_like_the_hf_backend(tmp_path, out_root, tiny_model_dir, fake_vllm):
    from definemed.evaluation import run_evaluation, stage_dir

    port = _free_port()
    c = _cfg(tmp_path, tiny_model_dir, lm_backend="server", generation_backend="openai", server="managed",
             server_port=port, server_start_timeout_s=120, vllm_tensor_parallel={"mistral-small-24b-tiny": 2})
    _general_token_file(c, tiny_model_dir)
    counts = run_evaluation(c)
    d = stage_dir(c)
    calls = fake_vllm.read_text().splitlines()
    assert len(calls) == 4  # one server per variant, started in turn
    assert all(x.startswith("serve ") and f"--port {port}" in x for x in calls)
    ref_call = next(x for x in calls if "--served-model-name mistral-small-24b-tiny" in x)
    assert "--tensor-parallel-size 2" in ref_call
    assert "--tensor-parallel-size 1" in next(x for x in calls if "--served-model-name qwen2.5-7b-tiny " in x)
    assert not serving._port_open("127.0.0.1", port)  # the last server was stopped
    served_ll = pd.read_parquet(d / "loglik.parquet")
    served_gen = pd.read_parquet(d / "generations.parquet")
    served_ppl = pd.read_parquet(d / "general.parquet").set_index("variant")
    assert counts["n_variants"] == 4 and (served_gen.backend == "openai").all()
    assert served_ppl.loc["qwen2.5-7b-tiny", "ppl_general"] > 1

    # the same stage with the HF backend and local generation: the same log-likelihoods and perplexity
    c2 = load_config(write_config(tmp_path / "hf.yaml", corpus=SMALL_CORPUS, models=MODELS, evaluate={
            **c.evaluate.model_dump(mode="json"), "lm_backend": "hf", "generation_backend": "transformers",
            "server": "external"}))
    run_evaluation(c2, force=True)
    hf_ll = pd.read_parquet(d / "loglik.parquet")
    m = served_ll.merge(hf_ll, on=["variant", "task", "doc_id"], suffixes=("_s", "_h"))
    assert len(m) == len(hf_ll) > 0
    for a, b in zip(m.loglik_s, m.loglik_h):
        assert a == pytest.approx(b, abs=1e-3)
    hf_ppl = pd.read_parquet(d / "general.parquet").set_index("variant")
    assert served_ppl.loc["qwen2.5-7b-tiny", "ppl_general"] == pytest.approx(hf_ppl.loc["qwen2.5-7b-tiny", "ppl_general"], rel=1e-4)
    hf_gen = pd.read_parquet(d / "generations.parquet")
    assert served_gen.answer.tolist() == hf_gen.answer.tolist()


def test_server_that_dies_or_port_in_use_is_one_clear_error(tmp_path, out_root, tiny_model_dir, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "vllm"
    exe.write_text("#!/bin/sh\necho 'CUDA out of memory' >&2\nexit 3\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    port = _free_port()
    c = load_config(write_config(tmp_path / "a.yaml", evaluate={"generation_backend": "openai", "server": "managed",
                                                                 "server_port": port}))
    v = Variant("m", "m", "base", tiny_model_dir)
    with pytest.raises(DefinemedError, match=r"m: model server exited with code 3 .*CUDA out of memory"):
        with serving.served(c, v, tmp_path / "server.log"):
            pass
    with socket.socket() as s:  # a port that already answers is refused before anything starts
        s.bind(("127.0.0.1", port))
        s.listen()
        with pytest.raises(DefinemedError, match=f"evaluate.server_port: 127.0.0.1:{port} is already in use"):
            with serving.served(c, v, tmp_path / "server.log"):
                pass
    c = load_config(write_config(tmp_path / "b.yaml", evaluate={"generation_backend": "openai", "server": "managed",
                                                                 "server_command": "no-such-vllm"}))
    with pytest.raises(DefinemedError, match="evaluate.server_command: 'no-such-vllm' not found"):
        with serving.served(c, v, tmp_path / "server.log"):
            pass


def test_managed_endpoint_and_served_name(tmp_path):
    c = load_config(write_config(tmp_path / "c.yaml", evaluate={"server": "managed", "server_port": 8123}))
    v = Variant("m-cpt", "m", "cpt", tmp_path / "cpt")
    assert backends.endpoint_for(c, v) == ("http://127.0.0.1:8123/v1", "m-cpt")
    cmd = serving.command(c, v)
    assert cmd[:5] == ["vllm", "serve", str(tmp_path / "cpt"), "--served-model-name", "m-cpt"]
