"""The agent's sandbox: the service that picks a compute provider, the built-in one, and the tool."""
