"""The demo clinic: data (demo_clinic.json) and the loader that writes it (seeder.py)."""
