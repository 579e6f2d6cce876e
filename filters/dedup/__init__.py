"""Deduplication at scale: exact (text, decoded pixels), near-duplicate text (MinHash LSH), near-duplicate
images (pHash), OBELICS image-URL frequency and paragraph dedup, decontamination, cross-source flag.

Layout (datatrove's multi-stage MinHash layout, generalised to every kind; see `stages.py`):

    keys    one task per input file: each record -> key entries (key u64, task rank, index, aux u64),
            appended to one file per (kind, partition = key % P); record ids to a per-task list.
            Records are not copied: the filter stage rereads the same folder with the same tasks.
    match   one task per partition: sort the partition's entries (numpy), turn equal keys into
            duplicate pairs (exact, MinHash bands), pHash candidate pairs confirmed by Hamming distance,
            frequent URL keys, or repeated-paragraph groups.
    finish  in the driver: connected components over all pairs (scipy) -> each cluster keeps its first
            record; per input task, a decision file: records to drop, each with the id it duplicates,
            and paragraphs to remove.
    filter  one task per keys task: drop / rewrite records; dropped ones go to the exclusion sink with
            `filter_reason` and `duplicate_of`; the funnel balances (in = kept + dropped + errored).

Memory bounds (N records, E entries per record, P partitions, D records that have a duplicate):
keys and filter tasks hold one batch of records plus <= 64k buffered entries per open partition file
(independent of N); a match task holds one partition, 24 * N * E / P bytes (MinHash: E = 14 bands);
the driver's clustering holds the D duplicates' pairs (unique records never reach it).

Plan for 1B records (web documents, ~14 MinHash bands each):
- keys: ~10k tasks of 100k records (Ray tasks, cpus_per_task=1); ~10 min of CPU per task for MinHash
  at ~2,000 docs/s/core including tokenisation; entries 1B x 14 x 24 B = 336 GB on shared storage.
- match: P = 4,096 partitions -> ~82 MB of entries per task (sort in numpy, < 0.5 GB peak); each
  partition is independent, so 4,096 Ray tasks; pairs out are ~16 B per duplicate.
- clustering: at a 20-30% duplicate rate D is 200-300M records: too many for one driver's scipy graph
  (~10 GB). Run it as its own stage instead of `finish`: iterative hash-to-min connected components
  (each round a partitioned join of pair files, ~log(diameter) rounds), or per-band union-find followed
  by a merge of the per-band component files; then decision files per input task as now.
- filter: one task per keys task, reading its decision file (size ~ its duplicates).
- pHash near images: the pigeonhole index (threshold + 1 chunks) makes buckets of ~N / 2^(64/(t+1))
  hashes; at 1B use t <= 4 (13-bit chunks) and P large enough that a bucket's all-pairs check stays
  small, collapse identical hashes first; beyond that, embeddings + ANN (e.g. SemDeDup) are the tool.
- image URL frequency and paragraphs: counting and first-occurrence per key are per-partition, with
  outputs (frequent URLs: small; removed paragraphs: ~15% of paragraphs, OBELICS) per input task.
- cross-source and decontamination: the evaluation set stays in memory (small); the cross-source
  index (16 B per image of the other source) becomes a keys + match join at that scale.
"""

from curate.filters.dedup.kinds import (
    ExactImage,
    ExactText,
    ImageUrlFrequency,
    MinHashText,
    NearImage,
    Paragraphs,
)
from curate.filters.dedup.stages import (
    cross_source_stage,
    decontamination_stage,
    dedup_stages,
    exact_dedup_stages,
    image_phash_dedup_stages,
    interleaved_dedup_stages,
    minhash_dedup_stages,
    page_dedup_stages,
    url_frequency_stages,
)

__all__ = [
    "ExactImage",
    "ExactText",
    "ImageUrlFrequency",
    "MinHashText",
    "NearImage",
    "Paragraphs",
    "cross_source_stage",
    "decontamination_stage",
    "dedup_stages",
    "exact_dedup_stages",
    "image_phash_dedup_stages",
    "interleaved_dedup_stages",
    "minhash_dedup_stages",
    "page_dedup_stages",
    "url_frequency_stages",
]
