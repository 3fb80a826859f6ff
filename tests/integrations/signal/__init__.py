"""Tests of the bundled Signal integration."""
