"""Reading results: metrics, estimates, efficiency, comparisons of runs."""
