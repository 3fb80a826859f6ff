"""Real outside services for tests: each started on 127.0.0.1 in a throwaway directory."""
