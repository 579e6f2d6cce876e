"""What a run produces and how it is used: WebDataset shards and Hub-native Parquet (rolled, compacted),
the training loader, and the push to the Hugging Face Hub."""
