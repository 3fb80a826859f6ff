"""The public API for integration authors: integration, manifest, config_flow, simple_flow, …"""
