"""Scoring: pass@k and its tallies, bootstrap and paired statistics, and the comparison of runs
(leaderboards, pairs, published figures)."""
