"""`clusterrun init` and ad-hoc runs: what a repository's scripts take and print, read from their source.

pysource.py  a Python entry point's options (argparse, click, typer), read with `ast`, never run
shell.py     shell scripts and Makefiles: the variables they read, the commands they run
metrics.py   regexes for the metrics a script prints (f"loss={loss}" -> 'loss=([0-9.eE+-]+)')
guess.py     which option makes a run short (epochs, max_steps...) and what value the smoke test uses
repo.py      the entry points of a repository, best first
"""
