"""clusterrun: reproducible-by-default ML experiments on SLURM or the local machine."""

__version__ = "0.1.0"
