"""Trino, the production warehouse engine: its catalogs (rendered from the settings) and its client."""
