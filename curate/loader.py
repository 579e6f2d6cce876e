"""Stream the shards into training: `webdataset` into a PyTorch DataLoader, or Hugging Face `datasets`.

Shards are split across ranks (nodes) and then across DataLoader workers, so with as many shards
as ranks x workers each sample is read exactly once per epoch.

    from curate.loader import make_dataloader
    for batch in make_dataloader("out/docmatix", batch_size=8, num_workers=2):
        images, metas = batch["image"], batch["json"]
"""

from __future__ import annotations

from pathlib import Path

from curate.shards import shard_paths

# Shards on an object store stream through fsspec (webdataset has no handler of its own for these);
# registered at import, so DataLoader workers that import this module have it too.
_FSSPEC_SCHEMES = ("s3", "s3a", "gcs", "az", "abfs", "abfss")


def _gopen_fsspec(url: str, mode: str = "rb", bufsize: int = 8192, **kw):
    import fsspec

    return fsspec.open(url, mode).open()


def _register_fsspec_schemes() -> None:
    from webdataset.gopen import gopen_schemes

    for scheme in _FSSPEC_SCHEMES:
        gopen_schemes.setdefault(scheme, _gopen_fsspec)


_register_fsspec_schemes()


def make_dataset(output: str | Path | list[str], decode_images: bool = True, shuffle: int = 0):
    """A `webdataset.WebDataset` over a run's shards (or a list of shard paths/URLs).

    Samples are dicts: `__key__`, `json` (decoded), `txt`, and the image members (`png`/`jpg`/...,
    decoded to PIL images when `decode_images`) plus `image`, the first image, whatever its format.
    """
    import webdataset as wds

    urls = output if isinstance(output, list) else shard_paths(output)
    if not urls:
        raise FileNotFoundError(f"no shards found in {output}")
    dataset = wds.WebDataset(
        urls,
        shardshuffle=False,
        nodesplitter=wds.split_by_node,
        workersplitter=wds.split_by_worker,
        empty_check=False,  # a worker may get no shard when there are fewer shards than workers
    )
    if shuffle:
        dataset = dataset.shuffle(shuffle)
    dataset = dataset.decode("pil") if decode_images else dataset.decode()
    return dataset.map(_with_first_image)


_IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "gif", "tif")


def _with_first_image(sample: dict) -> dict:
    for key in sorted(sample):
        if key.rsplit(".", 1)[-1] in _IMAGE_EXTENSIONS:
            sample["image"] = sample[key]
            break
    else:
        sample["image"] = None
    return sample


def _collate_as_lists(samples: list[dict]) -> dict[str, list]:
    """Keep each field a list: images differ in size and JSON in shape, so nothing is stacked."""
    keys = set().union(*samples)
    return {k: [s.get(k) for s in samples] for k in keys}


def make_dataloader(
    output: str | Path | list[str],
    batch_size: int = 8,
    num_workers: int = 2,
    decode_images: bool = True,
    shuffle: int = 0,
):
    """A `torch.utils.data.DataLoader` over the shards; batches are dicts of lists."""
    from torch.utils.data import DataLoader

    return DataLoader(
        make_dataset(output, decode_images, shuffle),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=_collate_as_lists,
    )


def load_hf_dataset(output: str | Path, split: str = "train"):
    """The shards as a Hugging Face `datasets.Dataset` (images decoded by `datasets`)."""
    from datasets import load_dataset

    return load_dataset("webdataset", data_files={split: shard_paths(output)}, split=split)
