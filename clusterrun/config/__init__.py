"""Experiment configs: YAML, overrides, validation, sweeps, cluster profiles, resource strings."""
