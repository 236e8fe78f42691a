"""Running the command: the local smoke test, the job wrapper on the node, the scripts."""
