"""The published reconciliation report: break lifecycle, artifacts, manifest, report table (contracts §3)."""
