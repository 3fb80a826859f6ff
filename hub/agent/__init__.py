"""The agent: models, toolset assembly, governance gates, capability providers and chat."""
