"""Running a recipe: task plans, local and Ray executors, the output lock, the ledger that accounts for
every record, progress bars and console output, and the funnel report (text and HTML)."""
