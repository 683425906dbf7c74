"""Our task YAMLs give lm-eval's documented MMLU prompt and load through lm-eval from local files;
a model folder that does not load is a clear error."""
import json

import pytest

from definemed.errors import DefinemedError
from definemed.evaluation import harness
from definemed.evaluation.questions import write_items

ITEMS = [
    {"id": "t0", "subject": "anatomie", "question": "Welches Organ ist bei Morbus Kesow betroffen?",
     "choices": ["die Milz", "die Haut", "das Herz", "die Lunge"], "answer": 2},
    {"id": "t1", "subject": "anatomie", "question": "Wodurch wird Morbus Ruhhardt verursacht?",
     "choices": ["Viren", "Pilze", "Bakterien", "Prionen"], "answer": 0},
]
DEV = [{"id": "d0", "subject": "anatomie", "question": "Zu welcher Gruppe gehört Velaxan?",
        "choices": ["Statine", "Diuretika", "Betablocker", "Analgetika"], "answer": 3},
       {"id": "d1", "subject": "anatomie", "question": "Welches Symptom ist typisch?",
        "choices": ["Fieber", "Husten", "Juckreiz", "Atemnot"], "answer": 1}]


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model):
    d = tmp_path_factory.mktemp("tasks")
    files = {"test": write_items(d / "q" / "test.jsonl", ITEMS), "dev": write_items(d / "q" / "dev.jsonl", DEV)}
    names = [harness.write_task_yaml(d / "tasks", "mmlu_de_anatomie", f, files, "mmlu", "anatomie") for f in ("mc", "cloze")]
    model, tok = tiny_model
    lm = harness.wrap_hflm(model, tok, batch_size=8)
    zero = harness.evaluate_tasks(lm, names, d / "tasks", 0, seed=1)
    few = harness.evaluate_tasks(lm, names[:1], d / "tasks", 2, seed=1)
    return names, zero, few, d


def test_documented_mmlu_prompt_and_continuations(run):
    names, zero, _, _ = run
    assert names == ["mmlu_de_anatomie", "mmlu_de_anatomie_cloze"]
    s = sorted(zero["samples"]["mmlu_de_anatomie"], key=lambda x: x["doc_id"])[0]
    prompt = ("Im Folgenden sind Multiple-Choice-Fragen (mit Antworten) zu Anatomie.\n\n"
              "Welches Organ ist bei Morbus Kesow betroffen?\nA. die Milz\nB. die Haut\nC. das Herz\n"
              "D. die Lunge\nAnswer:")
    assert [tuple(a) for a in s["arguments"]] == [(prompt, " A"), (prompt, " B"), (prompt, " C"), (prompt, " D")]
    assert s["target"] == 2
    c = sorted(zero["samples"]["mmlu_de_anatomie_cloze"], key=lambda x: x["doc_id"])[0]
    cp = "Frage: Welches Organ ist bei Morbus Kesow betroffen?\nAntwort:"
    assert [tuple(a) for a in c["arguments"]] == [(cp, " die Milz"), (cp, " die Haut"), (cp, " das Herz"), (cp, " die Lunge")]


def test_fewshot_examples_come_from_dev_split(run):
    _, _, few, _ = run
    s = sorted(few["samples"]["mmlu_de_anatomie"], key=lambda x: x["doc_id"])[0]
    ctx = s["arguments"][0][0]
    # lm-eval puts the description once, before the examples
    assert ctx.startswith("Im Folgenden sind Multiple-Choice-Fragen (mit Antworten) zu Anatomie.\n\n"
                          "Zu welcher Gruppe gehört Velaxan?\nA. Statine\n")
    assert ctx.count("Im Folgenden") == 1
    assert "D. Analgetika\nAnswer: D\n\nWelches Symptom ist typisch?" in ctx
    assert "Answer: B\n\nWelches Organ ist bei Morbus Kesow" in ctx


def _lm_eval_tasks_dir():
    from pathlib import Path

    import lm_eval.tasks

    return Path(lm_eval.tasks.__file__).parent


def test_mc_prompt_equals_lm_evals_mmlu_prompt(run):
    """lm-eval's own MMLU task config (its template and subject YAML), bound to our question files, with
    its English description line replaced by ours, builds exactly our contexts and continuations."""
    import yaml

    _, _, _, d = run
    lm = _lm_eval_tasks_dir()
    subj = yaml.safe_load((lm / "mmlu" / "default" / "mmlu_anatomy.yaml").read_text())
    assert subj["description"] == "The following are multiple choice questions (with answers) about anatomy.\n\n"
    ours = yaml.safe_load((d / "tasks" / "mmlu_de_anatomie.yaml").read_text())
    # the German line is the English one translated, worded as lm-eval's German MMLU (mmlu_prox) words it
    from lm_eval.tasks.mmlu_prox.lang_libs import LANG_LIBS

    german = LANG_LIBS["de"][3].split(" Denken Sie")[0].format(subject="Anatomie")
    assert ours["description"] == german + "\n\n" == harness.mc_description("anatomie")
    copy = {"include": str(lm / "mmlu" / "default" / "_default_template_yaml"), "task": "lm_eval_mmlu_copy",
            "dataset_path": "json", "dataset_kwargs": ours["dataset_kwargs"], "description": ours["description"]}
    (d / "lm_copy").mkdir(exist_ok=True)
    (d / "lm_copy" / "lm_eval_mmlu_copy.yaml").write_text(yaml.safe_dump(copy))
    theirs = harness.load_tasks(d / "lm_copy", ["lm_eval_mmlu_copy"])[0]
    mine = harness.load_tasks(d / "tasks", ["mmlu_de_anatomie"])[0]
    for k in (0, 2):
        for a, b in zip(mine.test_docs(), theirs.test_docs()):
            assert mine.fewshot_context(a, k) == theirs.fewshot_context(b, k)
            assert mine.doc_to_choice(a) == theirs.doc_to_choice(b) == ["A", "B", "C", "D"]


def test_metrics_stderr_and_per_question_logliks(run):
    _, zero, _, _ = run
    rows = harness.summary_rows(zero, "m", 0)
    r = next(x for x in rows if x["task"] == "mmlu_de_anatomie")
    assert r["n"] == 2 and 0 <= r["acc"] <= 1 and r["acc_stderr"] >= 0 and "acc_norm" in r
    df = harness.sample_rows(zero, "m", 0)
    assert len(df) == 4 and all(len(x) == 4 for x in df.loglik)
    # acc is the argmax of the logged log-likelihoods
    assert all(int(p == a) == acc for p, a, acc in zip(df.pred, df.answer, df.acc))
    mean = df[df.task == "mmlu_de_anatomie"].acc.mean()
    assert mean == pytest.approx(r["acc"])


def test_task_yaml_binds_local_files(run):
    _, _, _, d = run
    import yaml

    spec = yaml.safe_load((d / "tasks" / "mmlu_de_anatomie.yaml").read_text())
    assert spec["include"].endswith("_mc_template_yaml")
    assert spec["dataset_kwargs"]["data_files"]["test"].endswith("q/test.jsonl")
    with pytest.raises(DefinemedError, match="unknown format 'essay'"):
        harness.write_task_yaml(d / "tasks", "x", "essay", {}, "mmlu")


def test_model_folder_that_does_not_load(tmp_path, tiny_model_dir):
    with pytest.raises(DefinemedError, match="no config.json"):
        harness.load_model(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text((tiny_model_dir / "config.json").read_text())
    (bad / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(DefinemedError, match="no .safetensors weights"):
        harness.load_model(bad)
    (bad / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(DefinemedError, match="bad: model folder does not load"):
        harness.load_model(bad)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "nonexistent-arch"}))
    (broken / "model.safetensors").write_bytes(b"x")
    with pytest.raises(DefinemedError, match="does not load"):
        harness.load_model(broken)


def test_moved_output_tree_keeps_the_variant_fingerprint(tmp_path, monkeypatch):
    """The probe: a moved output tree recomputed 3 finished 06 variants (absolute paths in the task YAMLs)."""
    import shutil
    from types import SimpleNamespace

    from definemed.config import load_config
    from definemed.evaluation import harness as h
    from definemed.evaluation import stage as ev_stage

    cfg = load_config("tiny")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    variant = SimpleNamespace(label="m", kind="base", path=model)
    fps = []
    for where in ("a", "moved/b"):
        stage = tmp_path / where / "06_evaluate"
        if where == "a":
            (stage / "questions" / "facts").mkdir(parents=True)
            (stage / "questions" / "facts" / "test.jsonl").write_text('{"q": 1}\n')
            h.write_task_yaml(stage / "tasks", "facts_de", "sentence",
                              {"test": stage / "questions" / "facts" / "test.jsonl"}, "facts")
        else:
            shutil.copytree(tmp_path / "a", tmp_path / where)
            # the stage rewrites its task YAMLs on every run, now with the new absolute paths
            h.write_task_yaml(stage / "tasks", "facts_de", "sentence",
                              {"test": stage / "questions" / "facts" / "test.jsonl"}, "facts")
            assert str(tmp_path / "moved") in (stage / "tasks" / "facts_de.yaml").read_text()
        monkeypatch.setenv("DEFINEMED_OUTPUT_ROOT", str(tmp_path / where))
        fps.append(ev_stage._fingerprint(variant, cfg, stage / "tasks", []))
    assert fps[0] == fps[1]
