"""One module per command: read facts -> plan -> apply."""
