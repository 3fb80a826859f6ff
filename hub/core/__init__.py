"""Core services every other part of the hub builds on."""
