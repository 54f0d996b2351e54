"""Formats: the files of the tools people already use, read and written (human-eval's samples
JSONL today)."""
