"""The packing planner, the lazy dataset, and document isolation in the packed forward."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from definemed.errors import DefinemedError
from definemed.packing import (IGNORE_INDEX, PackedDataset, PackingPlan, TokenFile, chunking_efficiency,
                               padding_efficiency, plan_packing, write_token_file)


def _reference_bfd_bins(sizes, T):
    """Textbook best-fit decreasing, one item at a time."""
    caps = []
    for s in sorted(sizes, reverse=True):
        fits = [i for i, c in enumerate(caps) if c >= s]
        if fits:
            best = min(fits, key=lambda i: caps[i])
            caps[best] -= s
        else:
            caps.append(T - s)
    return len(caps)


def _coverage(plan, lengths):
    """Every token of every document covered exactly once (split mode)."""
    seen = {}
    for d, s, n in zip(plan.doc_index.tolist(), plan.start.tolist(), plan.length.tolist()):
        seen.setdefault(d, []).append((s, n))
    for d, L in enumerate(lengths):
        spans = sorted(seen.get(d, []))
        pos = 0
        for s, n in spans:
            assert s == pos, (d, spans)
            pos += n
        assert pos == L


@pytest.mark.parametrize("seed", range(4))
def test_split_loses_no_token_and_respects_seq_len(seed):
    rng = np.random.default_rng(seed)
    T = int(rng.integers(8, 300))
    lengths = np.maximum(0, rng.lognormal(np.log(T / 3), 1.2, 2000)).astype(np.int64)
    plan = plan_packing(lengths, T, seed=seed)
    assert plan.tokens_kept == lengths.sum()
    assert (plan.bin_lengths <= T).all() and (plan.bin_lengths > 0).all()
    assert (plan.length <= T).all() and (plan.length > 0).all()
    _coverage(plan, lengths)
    assert plan.efficiency == pytest.approx(lengths.sum() / (plan.num_bins * T))


def test_matches_textbook_best_fit_decreasing():
    rng = np.random.default_rng(7)
    for _ in range(150):
        T = int(rng.integers(2, 50))
        sizes = rng.integers(1, T + 1, int(rng.integers(1, 60)))
        assert plan_packing(sizes, T).num_bins == _reference_bfd_bins(list(sizes), T)


def test_truncate_and_baselines():
    lengths = np.array([10, 3, 25, 0, 7])
    plan = plan_packing(lengths, 8, long_docs="truncate")
    assert plan.tokens_kept == 8 + 3 + 8 + 7
    assert (plan.start == 0).all()
    pad = padding_efficiency(lengths, 8)
    chunk = chunking_efficiency(lengths, 8)
    assert chunk["efficiency"] >= plan_packing(lengths, 8).efficiency >= pad["efficiency"]


def test_shuffle_is_seeded_and_plan_roundtrips(tmp_path):
    lengths = np.random.default_rng(0).integers(1, 100, 500)
    a, b, c = plan_packing(lengths, 128, seed=1), plan_packing(lengths, 128, seed=1), plan_packing(lengths, 128, seed=2)
    assert np.array_equal(a.doc_index, b.doc_index) and not np.array_equal(a.doc_index, c.doc_index)
    assert sorted(map(tuple, map(sorted, a))) == sorted(map(tuple, map(sorted, c)))  # same bins, other order
    loaded = PackingPlan.load(a.save(tmp_path / "plan.npz"))
    assert loaded.summary() == a.summary() and np.array_equal(loaded.start, a.start)


def test_bad_input():
    with pytest.raises(DefinemedError, match="seq_len"):
        plan_packing([3, 4], 1)
    with pytest.raises(DefinemedError, match="no non-empty document"):
        plan_packing([], 16)
    with pytest.raises(DefinemedError, match="negative"):
        plan_packing([3, -1], 16)
    with pytest.raises(DefinemedError, match="long_docs"):
        plan_packing([3], 16, long_docs="drop")


def test_dataset_gathers_tokens_positions_and_labels(tmp_path):
    docs = [np.arange(1, 6), np.arange(10, 13), np.arange(20, 29)]  # 5, 3, 9 tokens
    write_token_file(iter(docs), tmp_path / "tok")
    tf = TokenFile(tmp_path / "tok")
    plan = plan_packing(tf.lengths, 8)
    ds = PackedDataset(plan, tf, pad_id=0)
    seen = []
    for i in range(len(ds)):
        item = ds[i]
        assert item["input_ids"].shape == (8,)
        pos, lab, ids = item["position_ids"], item["labels"], item["input_ids"]
        for d, s, n in plan.bin(i):
            at = int(np.flatnonzero((pos == 0))[len([x for x in seen if x[0] == i])])
            seen.append((i, d))
            assert np.array_equal(ids[at:at + n], docs[d][s:s + n])
            assert np.array_equal(pos[at:at + n], np.arange(n))
            assert lab[at] == IGNORE_INDEX and np.array_equal(lab[at + 1:at + n], ids[at + 1:at + n])
        used = sum(n for _, _, n in plan.bin(i))
        assert (lab[used:] == IGNORE_INDEX).all()
        assert item["n_label_tokens"] == ds.label_counts()[i]
    assert sum(x["n_label_tokens"] for x in map(ds.__getitem__, range(len(ds)))) == sum(
        n - 1 for n in plan.length.tolist())


@pytest.mark.parametrize("arch,attn", [("llama", "sdpa"), ("qwen2", "eager"), ("mistral", "sdpa")])
def test_packed_logits_equal_separate_logits(tmp_path, arch, attn):
    from transformers import AutoModelForCausalLM

    from tests.factories import tiny_model

    path = tiny_model(tmp_path / "m", arch, vocab_size=97, hidden=32, layers=2, seed=3)
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation=attn).eval()
    g = torch.Generator().manual_seed(0)
    docs = [torch.randint(0, 97, (n,), generator=g) for n in (7, 12, 5)]
    ids = torch.cat(docs)[None]
    pos = torch.cat([torch.arange(len(d)) for d in docs])[None]
    with torch.no_grad():
        packed = model(input_ids=ids, position_ids=pos, use_cache=False).logits[0]
        separate = torch.cat([model(input_ids=d[None], use_cache=False).logits[0] for d in docs])
        # the same sequence without restarting positions: documents see each other
        leaky = model(input_ids=ids, use_cache=False).logits[0]
    torch.testing.assert_close(packed, separate, atol=2e-5, rtol=1e-4)
    assert not torch.allclose(leaky[len(docs[0]):], separate[len(docs[0]):], atol=1e-3)
