"""Tests of the bundled email integration against real IMAP and SMTP servers."""
