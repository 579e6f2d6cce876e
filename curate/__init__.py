"""curate: multimodal data curation for vision-language models."""

from curate.secrets import guard_logs

# every process that runs curate code (the CLI, pool and Ray workers, which import it to unpickle a
# step) logs without credentials and without a traceback of its own on a non-UTF-8 name
guard_logs()
