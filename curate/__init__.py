"""curate: multimodal data curation for vision-language models."""
