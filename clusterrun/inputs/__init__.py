"""What a run is made of: git state, the immutable snapshot, per-run working directories, data."""
