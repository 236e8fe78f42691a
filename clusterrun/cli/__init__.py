"""The command-line front: the only place that prints, prompts or exits."""
