"""curate: multimodal data curation for vision-language models."""

# Worker processes (datatrove's local pool, Ray) import curate when they unpickle a stage's steps,
# before a task adds its log sinks: the one moment our code runs there before datatrove's. Once the
# executor has a worker-start hook of ours (curate/stage.py), this call moves there.
from curate.console import prepare_worker

prepare_worker()
