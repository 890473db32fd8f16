"""Server-rendered pages for the front desk, clinicians and patients.

Plain HTML forms that work without JavaScript; every write goes through
scheduling.services with `now` taken once per request."""
