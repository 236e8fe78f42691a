"""Experiment configs: YAML, overrides, validation, sweeps, cluster profiles, resource strings.

One loading pass, in experiment.py (load_experiment), over helpers that never import it back:
  experiment    the pass: file -> overrides -> cluster profile -> validate -> sweep members
  profiles      cluster profiles (configs/clusters/<name>.yaml) and their defaults under a config
  sweep         expand grid / zip / random axes and --sweep into members' values
  render        a spec -> the job's argv and env (placeholders filled in)
  models        ExperimentSpec, and raw data -> spec with readable validation errors
  sections      the config's sections: Resources, Smoke, Metrics, Estimate, Sweep (+ RandomAxis)
  overrides     KEY=VALUE parsing, value lists, dotted-key edits of raw data
  placeholders  the {name} fields of command tokens and env values
  yaml12        YAML 1.2 files -> a mapping, with line/column errors
  resources     SLURM time and memory strings
"""
