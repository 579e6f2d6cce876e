"""Convert a GGUF model to a Hugging Face folder that vLLM loads (vLLM on CPU cannot read GGUF).

Run with the vLLM venv's Python (it has transformers, gguf and torch; the project venv need not):

    .venv-vllm/bin/python -m curate.synth.convert_gguf MODEL.gguf OUT_DIR

transformers dequantises the GGUF weights into bf16 (~45 s and 1.2 GB for the 0.5B Qwen). The result
is written to OUT_DIR.tmp and renamed, so a killed conversion never leaves a half folder behind.
This module imports nothing of the project: it runs where the project's dependencies are absent.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def convert(gguf: Path, out: Path) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16)
    # the weights are dequantised already: saving must not record the GGUF quantisation
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m curate.synth.convert_gguf MODEL.gguf OUT_DIR")
    print(convert(Path(sys.argv[1]), Path(sys.argv[2])))
