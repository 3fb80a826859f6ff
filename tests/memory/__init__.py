"""Tests of the world memory and skills."""
