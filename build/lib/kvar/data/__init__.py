"""Data model and loading: table contracts, readers, validation, the embedded workspace, demo data."""
