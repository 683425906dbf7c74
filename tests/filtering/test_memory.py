"""Peak memory of a datatrove filter task and of stage 00's scan does not grow with the input file:
each runs in a fresh process on a FineWeb2-schema parquet file of 12,000 and of 48,000 documents
(about 30 MB and 120 MB of text) and reports its peak RSS; the larger file may add at most a fifth of
its extra text. (Reading a whole file, as the filter did before, adds all of it: about 90 MB.)"""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

TEXT_CHARS = 2500
ROW_GROUP = 2000


def write_fineweb_file(path: Path, n: int, seed: int = 0) -> int:
    """n documents in FineWeb2's schema, row groups of 2,000 (as FineWeb2's files have several); returns the
    bytes of text. Texts differ per document, no dictionary encoding (the reader sees every byte)."""
    from definemed.corpus.schema import FINEWEB2_SCHEMA

    g = np.random.default_rng(seed)
    words = np.array(["Herz", "Leber", "Stadion", "Garten", "Blut", "Wasser", "Zelle", "Stadt", "Arzt", "Wetter"])
    base = [" ".join(g.choice(words, TEXT_CHARS // 6)) for _ in range(64)]
    path.parent.mkdir(parents=True, exist_ok=True)
    n_bytes = 0
    with pq.ParquetWriter(path, FINEWEB2_SCHEMA, compression="zstd", use_dictionary=False) as w:
        for start in range(0, n, ROW_GROUP):
            m = min(ROW_GROUP, n - start)
            texts = [f"Dokument {start + i}: {base[(start + i) % 64][(start + i) % 97:]}" for i in range(m)]
            n_bytes += sum(len(t) for t in texts)
            cols = {"text": texts, "id": [f"<urn:uuid:{start + i:08d}>" for i in range(m)],
                    "dump": ["CC-MAIN-2024-10"] * m, "url": [f"https://example.de/{start + i}" for i in range(m)],
                    "date": ["2024-03-01T00:00:00Z"] * m, "file_path": ["s3://x"] * m, "language": ["deu"] * m,
                    "language_score": [0.99] * m, "language_script": ["Latn"] * m, "minhash_cluster_size": [1] * m,
                    "top_langs": ['{"deu_Latn_score": 0.99}'] * m}
            w.write_table(pa.table({f.name: cols[f.name] for f in FINEWEB2_SCHEMA}, schema=FINEWEB2_SCHEMA))
    return n_bytes


FILTER_TASK = """
import resource, sys, zlib
import numpy as np
from pathlib import Path
from definemed.filtering.datatrove_step import FilterFilesStep

class HashScorer:  # stands in for the classifier: the memory under test is the reader's and the writers'
    def score(self, texts):
        return np.array([(zlib.crc32(t.encode()) % 1000) / 1000 for t in texts], dtype=np.float32)

src, out = sys.argv[1], sys.argv[2]
step = FilterFilesStep(str(Path(src).parent), out, out, 0.9, "fp", [src], True, doc_batch=1000)
step._scorer = HashScorer()
list(step.run(rank=0, world_size=1))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

SCAN = """
import resource, sys
from pathlib import Path
from definemed.corpus.streaming import priority_cut, scan_file
src, out = sys.argv[1], sys.argv[2]
s = scan_file(str(Path(src).parent), src, Path(out) / "part.parquet", 1234, priority_cut(40, int(sys.argv[3])))
assert s["candidates"] > 0
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_kib(script: str, *args) -> int:
    import definemed

    src = str(Path(definemed.__file__).parents[1])
    r = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                       env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1",
                            "TOKENIZERS_PARALLELISM": "false", "ARROW_DEFAULT_MEMORY_POOL": "system"})
    assert r.returncode == 0, r.stderr[-2000:]
    return int(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("big")
    small, large = d / "small" / "000_00000.parquet", d / "large" / "000_00000.parquet"
    return (small, write_fineweb_file(small, 12_000), 12_000), (large, write_fineweb_file(large, 48_000), 48_000)


@pytest.mark.parametrize("what", ["datatrove filter task", "stage 00 scan"])
def test_peak_memory_does_not_grow_with_the_file(files, tmp_path, what):
    (small, small_bytes, n_small), (large, large_bytes, n_large) = files
    if what == "datatrove filter task":
        peaks = [_peak_kib(FILTER_TASK, f, tmp_path / f"out{i}") for i, f in enumerate((small, large))]
    else:
        peaks = [_peak_kib(SCAN, f, tmp_path / f"out{i}", n) for i, (f, n) in enumerate(((small, n_small), (large, n_large)))]
    growth = (peaks[1] - peaks[0]) * 1024
    extra_text = large_bytes - small_bytes
    print(f"{what}: peak RSS {peaks[0] / 1024:.0f} MiB ({small_bytes / 2**20:.0f} MiB of text) -> "
          f"{peaks[1] / 1024:.0f} MiB ({large_bytes / 2**20:.0f} MiB of text)")
    assert growth < 0.2 * extra_text, (peaks, extra_text)
    if what == "datatrove filter task":  # and the outputs are complete
        out = pq.read_metadata(tmp_path / "out1" / "shards" / "shard-00000.parquet")
        scores = pq.read_metadata(tmp_path / "out1" / "scores" / "scores-00000.parquet")
        assert scores.num_rows == n_large and 0 < out.num_rows < n_large
