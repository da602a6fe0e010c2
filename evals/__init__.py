"""Evaluation suites (``triage eval``) and the benchmark (``triage bench``); reports go to evals/results/."""
