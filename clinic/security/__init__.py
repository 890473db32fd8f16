"""Authentication hardening: password rules, lockout, sessions, second factor, API tokens, headers."""
