"""The transformers Trainer baseline of bench_training (run by it under torchrun; not a benchmark
entry itself): one document per example, padded to the longest in its batch, DDP over gloo."""
from __future__ import annotations

import json
import sys
import tempfile

import numpy as np
import torch
import torch.distributed as dist


def main(model_dir: str, token_stem: str, steps: int, per_device: int, out: str) -> None:
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    from definemed.packing import TokenFile

    torch.set_num_threads(1)
    tf = TokenFile(token_stem)
    docs = [{"input_ids": tf.doc(i).astype(np.int64).tolist()} for i in range(len(tf))]
    counted = {"label_tokens": 0}

    def collate(batch):
        n = max(len(b["input_ids"]) for b in batch)
        ids = torch.zeros(len(batch), n, dtype=torch.long)
        mask = torch.zeros(len(batch), n, dtype=torch.long)
        for i, b in enumerate(batch):
            ids[i, :len(b["input_ids"])] = torch.tensor(b["input_ids"])
            mask[i, :len(b["input_ids"])] = 1
        labels = ids.masked_fill(mask == 0, -100)
        counted["label_tokens"] += int(mask[:, 1:].sum())
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, per_device_train_batch_size=per_device, max_steps=steps,
                                 learning_rate=3e-3, lr_scheduler_type="cosine", logging_steps=steps,
                                 save_strategy="no", report_to=[], use_cpu=True, ddp_backend="gloo",
                                 dataloader_drop_last=True, seed=0, disable_tqdm=True, remove_unused_columns=False)
        trainer = Trainer(model=model, args=args, train_dataset=docs, data_collator=collate)
        res = trainer.train()
    total = torch.tensor(counted["label_tokens"], dtype=torch.long)
    if dist.is_initialized():
        dist.all_reduce(total)
    if int(__import__("os").environ.get("RANK", 0)) == 0:
        with open(out, "w") as f:
            json.dump({"runtime_s": res.metrics["train_runtime"], "label_tokens": int(total)}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
