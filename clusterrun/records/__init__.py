"""The run directory: the registry of runs, the writer of their records, summaries."""
