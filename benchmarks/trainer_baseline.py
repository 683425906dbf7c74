"""The transformers Trainer baselines of bench_training (run by it under torchrun; not a benchmark entry
itself), on exactly the sequences our loop trains on, step by step:

- `bins`: the same packed bins (`PackedDataset` items: input_ids, position_ids restarting at every
  document, labels -100 at each document start and on padding), 8 per process per step, no attention
  mask (transformers then isolates the documents from position_ids, as our loop does);
- `flatten`: the same documents of the same bins through `DataCollatorWithFlattening` (one row per
  process and step, position-id restarts, -100 at each document start).

The bins come in our loop's order (`SequenceOrder` with the spec's seed), fed with the sequential
sampler, so process r of step k gets the bins our loop's rank r gets. DDP over gloo, 1 thread per
process, AdamW, cosine schedule, weight decay and clipping as in the run spec."""
from __future__ import annotations

import json
import os
import sys
import tempfile

import numpy as np
import torch
import torch.distributed as dist


def main(mode: str, model_dir: str, token_stem: str, plan_file: str, steps: int, per_device: int, world: int,
         seed: int, out: str) -> None:
    from transformers import AutoModelForCausalLM, DataCollatorWithFlattening, Trainer, TrainingArguments

    from definemed.packing import PackedDataset, PackingPlan, TokenFile
    from definemed.training.loop import SequenceOrder

    torch.set_num_threads(1)
    plan = PackingPlan.load(plan_file)
    tf = TokenFile(token_stem)
    ds = PackedDataset(plan, tf, pad_id=0)
    order = SequenceOrder(plan.num_bins, seed)
    bins = [order(g) for g in range(steps * per_device * world)]
    counted = {"label_tokens": 0}
    if mode == "bins":
        items = [{k: v for k, v in ds[b].items() if k != "n_label_tokens"} for b in bins]

        def collate(batch):
            out = {k: torch.as_tensor(np.stack([b[k] for b in batch])) for k in ("input_ids", "position_ids", "labels")}
            counted["label_tokens"] += int((out["labels"][:, 1:] != -100).sum())
            return out
    else:
        items = [{"docs": [tf.doc(d)[s:s + n].astype(np.int64).tolist() for d, s, n in plan.bin(b)]} for b in bins]
        flat = DataCollatorWithFlattening(return_tensors="pt")

        def collate(batch):
            out = flat([{"input_ids": doc} for b in batch for doc in b["docs"]])
            counted["label_tokens"] += int((out["labels"][:, 1:] != -100).sum())
            return {k: out[k] for k in ("input_ids", "position_ids", "labels")}

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.config.use_cache = False  # packed rows: a KV cache would let documents see each other
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, per_device_train_batch_size=per_device, max_steps=steps,
                                 learning_rate=3e-3, lr_scheduler_type="cosine", weight_decay=0.1, max_grad_norm=1.0,
                                 logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, ddp_backend="gloo",
                                 dataloader_drop_last=True, seed=0, disable_tqdm=True, remove_unused_columns=False,
                                 train_sampling_strategy="sequential",
                                 # tuned (issue 31): no search for unused parameters, no buffer broadcast
                                 # (the model has none that change), no pinned memory on CPU
                                 ddp_find_unused_parameters=False, ddp_broadcast_buffers=False,
                                 dataloader_pin_memory=False)
        trainer = Trainer(model=model, args=args, train_dataset=items, data_collator=collate)
        res = trainer.train()
        losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    total = torch.tensor(counted["label_tokens"], dtype=torch.long)
    if dist.is_initialized():
        dist.all_reduce(total)
    if int(os.environ.get("RANK", 0)) == 0:
        with open(out, "w") as f:
            json.dump({"runtime_s": res.metrics["train_runtime"], "label_tokens": int(total), "losses": losses}, f)


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], a[1], a[2], a[3], int(a[4]), int(a[5]), int(a[6]), int(a[7]), a[8])
