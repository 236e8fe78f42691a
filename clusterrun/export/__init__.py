"""Exports of runs to files (CSV, JSON lines) and to tracking servers (MLflow)."""
