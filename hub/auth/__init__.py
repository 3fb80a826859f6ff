"""People and access: accounts, password hashing, tokens, throttling."""
