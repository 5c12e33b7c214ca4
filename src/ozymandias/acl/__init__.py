"""Who may call what: roles, tokens (kept only as hashes) and their lookup. Pure."""
