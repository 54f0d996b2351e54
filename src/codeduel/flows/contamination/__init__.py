"""Contamination and memorisation probes: has the model seen the test? (issue 17)."""
