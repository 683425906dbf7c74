"""Paper-profile loaders on fixture files written in the public datasets' schemas."""
import json

import pytest

from definemed.errors import DefinemedError
from definemed.evaluation import loaders
from definemed.evaluation.questions import read_items, write_items


def _jsonl(path, recs):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_mmlux_records_map_to_task_format(tmp_path):
    recs = _jsonl(tmp_path / "anatomy_DE-test.jsonl", [
        {"question": "Welcher Knochen ist der längste?", "choices": ["Femur", "Tibia", "Humerus", "Radius"],
         "answer": 0, "id": "anatomy/test/0"},
        {"question": "Wo liegt die Leber?", "choices": ["links", "rechts", "oben", "unten"], "answer": "B",
         "id": "anatomy/test/1"},
    ])
    items = [loaders.mmlux_record(r, "anatomy", i) for i, r in enumerate(recs)]
    assert items[0] == {"id": "anatomy/test/0", "subject": "anatomy", "question": "Welcher Knochen ist der längste?",
                        "choices": ["Femur", "Tibia", "Humerus", "Radius"], "answer": 0, "fact_id": -1, "relation": ""}
    assert items[1]["answer"] == 1
    write_items(tmp_path / "out.jsonl", items)
    assert read_items(tmp_path / "out.jsonl") == items


def test_mmlux_bad_records():
    with pytest.raises(DefinemedError, match="anatomy_DE: record 3: missing field 'choices'"):
        loaders.mmlux_record({"question": "q", "answer": 0}, "anatomy", 3)
    with pytest.raises(DefinemedError, match="out of range"):
        loaders.mmlux_record({"question": "q", "choices": ["a", "b", "c", "d"], "answer": 9}, "anatomy", 0)


def test_bioinstructqa_records_map_to_task_format(tmp_path):
    recs = _jsonl(tmp_path / "bioinstructqa.jsonl", [
        {"identifier": 1, "corpus_name": "MedQA", "question_translated": "Ein 54-jähriger Patient ...?",
         "options_translated": {"A": "Aspirin", "B": "Heparin", "C": "Insulin", "D": "Metformin"},
         "correct_answer_letter": "C"},
        {"identifier": 2, "corpus_name": "PubMedQA", "question_translated": "x", "options_translated": {"A": "ja", "B": "nein"},
         "correct_answer_letter": "A"},
        {"identifier": 3, "corpus_name": "MedQA", "question_translated": "Eine 30-jährige Frau ...?",
         "options_translated": "A. eins\nB. zwei\nC. drei\nD. vier", "correct_answer_letter": "d"},
        {"identifier": 4, "corpus_name": "MedQA", "question_translated": "Fünf Optionen?",
         "options_translated": ["a", "b", "c", "d", "e"], "correct_answer_letter": "E"},
    ])
    items = loaders.medqa_items(recs, "MedQA", n_options=4)
    assert [it["id"] for it in items] == ["1", "3"]
    assert items[0]["choices"] == ["Aspirin", "Heparin", "Insulin", "Metformin"] and items[0]["answer"] == 2
    assert items[1]["choices"] == ["eins", "zwei", "drei", "vier"] and items[1]["answer"] == 3
    assert len(loaders.medqa_items(recs, "MedQA", n_options=None)) == 3


@pytest.mark.parametrize("rec, msg", [
    ({"question_translated": "q", "options_translated": {"A": "a", "B": "b"}, "correct_answer_letter": "C"}, "out of range"),
    ({"question_translated": "q", "correct_answer_letter": "A"}, "missing field 'options_translated'"),
    ({"question_translated": "q", "options_translated": {"A": "a", "C": "c"}, "correct_answer_letter": "A"}, "option keys"),
    ({"question_translated": "q", "options_translated": "eins, zwei", "correct_answer_letter": "A"}, "not 'A. ...' lines"),
])
def test_bioinstructqa_bad_records(rec, msg):
    with pytest.raises(DefinemedError, match=msg):
        loaders.bioinstructqa_record({"corpus_name": "MedQA", **rec}, 5)


# ---- the paper profile's sources, against recorded schema fixtures ---------------------------------
import copy  # noqa: E402
import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


def _fixture(name):
    return json.loads((FIXTURES / name).read_text())


def _type_names(schema):
    return {k: "|".join(t.__name__ for t in (v if isinstance(v, tuple) else (v,))) for k, v in schema.items()}


def test_loader_schemas_are_the_recorded_ones():
    assert _type_names(loaders.MMLUX_SCHEMA) == _fixture("mmlux_de.schema.json")["columns"]
    assert _type_names(loaders.BIOINSTRUCTQA_SCHEMA) == _fixture("bioinstructqa_german.schema.json")["columns"]
    for name, schema in (("mmlux_de.schema.json", loaders.MMLUX_SCHEMA),
                         ("bioinstructqa_german.schema.json", loaders.BIOINSTRUCTQA_SCHEMA)):
        loaders.check_schema(_fixture(name)["record"], schema, name)


class FakeHub:
    """hf_hub_download stand-in: writes files in the recorded shapes; records what was asked."""

    def __init__(self, root, mmlu=None, medqa=None):
        self.root, self.calls = root, []
        self.mmlu = mmlu or _fixture("mmlux_de.schema.json")["record"]
        self.medqa = medqa or _fixture("bioinstructqa_german.schema.json")["record"]

    def __call__(self, repo_id, filename, repo_type, revision):
        self.calls.append((repo_id, filename, repo_type, revision))
        path = self.root / repo_id.replace("/", "__") / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        if filename.endswith(".jsonl"):
            recs = [{**copy.deepcopy(self.mmlu), "id": f"{filename}/{i}", "answer": i % 4} for i in range(7)]
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))
        else:
            recs = [{**copy.deepcopy(self.medqa), "identifier": f"q{i}", "corpus_name": "MedQA" if i % 4 else "MedMCQA",
                     "correct_answer_letter": "ABCD"[i % 4]} for i in range(24)]
            with zipfile.ZipFile(path, "w") as z:
                z.writestr("data/langs_processed/German-full.json", json.dumps(recs, ensure_ascii=False))
                z.writestr("data/langs_processed/French-full.json", "[]")
        return str(path)


def _paper(tmp_path, **evaluate):
    from definemed.config import load_config
    from tests.conftest import write_config

    return load_config(write_config(tmp_path / "paper.yaml", profile="paper", evaluate={
        "mmlu_subjects": ["anatomy", "clinical_knowledge"], "winrate_n_questions": 4,
        "medqa_revision": "1" * 40, **evaluate}))


def test_paper_sources_load_from_pinned_files_without_scripts(tmp_path):
    cfg = _paper(tmp_path)
    hub = FakeHub(tmp_path / "hub")
    sets, wr = loaders.hub_question_sets(cfg, download=hub)
    assert [(qs.task, len(qs.test), len(qs.dev)) for qs, _ in sets] == [
        ("mmlu_de_anatomy", 7, 5), ("mmlu_de_clinical_knowledge", 7, 5), ("medqa_de", 18 - 5, 5)]
    assert ("LumiOpen/opengpt-x_mmlux", "hendrycks_anatomy_DE_test.jsonl", "dataset",
            "d4a99431a363e01cf9cba368b6ed0217cde7425e") in hub.calls
    assert ("BioMistral/BioInstructQA", "data.zip", "dataset", "1" * 40) in hub.calls
    medqa = sets[-1][0]
    assert not {i["id"] for i in medqa.test} & {i["id"] for i in medqa.dev}  # few-shot items never tested
    assert medqa.test[0]["choices"] == ["Aspirin", "Heparin", "Insulin", "Metformin"]
    assert len(wr) == 4 and all(len(q["pool"]) == 3 for q in wr)


@pytest.mark.parametrize("which, change, msg", [
    ("mmlu", lambda r: r.pop("choices"), "missing field 'choices'"),
    ("mmlu", lambda r: r.update(question=["Frage"]), "field 'question' is list, recorded schema says str"),
    ("medqa", lambda r: r.pop("question_translated"), "missing field 'question_translated'"),
    ("medqa", lambda r: r.update(options_translated="A. x\nB. y"), "field 'options_translated' is str"),
])
def test_a_schema_change_upstream_fails_loudly(tmp_path, which, change, msg):
    rec = copy.deepcopy(_fixture("mmlux_de.schema.json" if which == "mmlu" else "bioinstructqa_german.schema.json")["record"])
    change(rec)
    hub = FakeHub(tmp_path / "hub", **{which: rec})
    with pytest.raises(DefinemedError, match=msg):
        loaders.hub_question_sets(_paper(tmp_path), download=hub)


def test_unpinned_benchmark_revision_is_refused_unless_allowed(tmp_path):
    from definemed.config import load_config

    cfg = load_config("paper")  # medqa_revision: no known commit, allowed by allow_unpinned_keys only
    assert cfg.allow_unpinned_keys == ["evaluate.medqa_revision"] and not cfg.allow_unpinned
    hub = FakeHub(tmp_path / "hub")
    assert loaders.hub_question_sets(cfg, download=hub)[0]
    strict = cfg.model_copy(update={"allow_unpinned_keys": []})
    with pytest.raises(DefinemedError, match="BioMistral/BioInstructQA: revision 'main'.*not a commit hash"):
        loaders.hub_question_sets(strict, download=hub)
    assert loaders.hub_question_sets(strict.model_copy(update={"allow_unpinned": True}), download=hub)[0]


def test_paper_format_prompts_are_held_out_german_medical_questions(tmp_path, monkeypatch):
    """Stage 05's format prompts in the paper profile: MedQA-de questions stage 06 does not ask as
    win-rate questions (never the synthetic fact bank)."""
    from pathlib import Path

    from definemed.merging import stage as merging

    class DistinctHub(FakeHub):  # every MedQA record with its own question text
        def __call__(self, repo_id, filename, repo_type, revision):
            path = super().__call__(repo_id, filename, repo_type, revision)
            if filename.endswith(".zip"):
                with zipfile.ZipFile(path) as z:
                    recs = json.loads(z.read("data/langs_processed/German-full.json"))
                for r in recs:
                    r["question_translated"] += f" [{r['identifier']}]"
                with zipfile.ZipFile(path, "w") as z:
                    z.writestr("data/langs_processed/German-full.json", json.dumps(recs, ensure_ascii=False))
            return path

    cfg = _paper(tmp_path)
    hub = DistinctHub(tmp_path / "hub")
    _, wr = loaders.hub_question_sets(cfg, download=hub)
    prompts = loaders.heldout_questions(cfg, 100, download=hub)
    asked = {q["question"] for q in wr}
    assert len(prompts) == 13 - 4 == len(set(prompts)) and not (set(prompts) & asked)
    assert prompts == loaders.heldout_questions(cfg, 100, download=hub)  # seeded
    monkeypatch.setattr(loaders, "fetch_file", lambda repo, filename, revision, allow, download=None: Path(
        hub(repo_id=repo, filename=filename, repo_type="dataset", revision=revision)))
    assert merging.chat_prompts(cfg, 3) == loaders.heldout_questions(cfg, 3, download=hub)
