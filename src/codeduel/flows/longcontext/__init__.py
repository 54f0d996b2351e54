"""Long-context probes of the Code Llama paper: key retrieval (Table 17) and perplexity against
context position, both over real Python source read from a corpus (the stdlib by default)."""
