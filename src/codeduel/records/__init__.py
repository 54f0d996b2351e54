"""Records: the results store (one SQLite file, the only checkpoint of every run) and the one
run lifecycle every recording flow goes through."""
