"""The correctness prober (issue 15): proves, every cycle, that the platform still reconciles right.

When `FINANCE_RECON_PROBE_ENABLED=true`, each run of the reconciliation job writes, before
extraction, one synthetic order and its matching payment into the sources — and every
`FINANCE_RECON_PROBE_UNMATCHED_EVERY`-th run also a deliberately underpaid pair — with the ids
reserved in `finance_recon/contracts.py`. After dbt, the report step reads the categories dbt gave
them, records the verdict in the manifest's `probe` section (never in Finance's figures: the models
exclude synthetic items from every total and break) and the exporter turns it into
`finance_reconciliation_probe_success`.

- `plan`: what one cycle writes and what it expects (pure);
- `control`: the cycle register in the warehouse (`control.probe_items`, `control.probe_errors`);
- `inject`: the writes into a source (MariaDB/MySQL, PostgreSQL or the embedded DuckDB files);
- `step`: the part the extraction assets call before they read;
- `evaluate`: the manifest section, read from `fct_reconciliation_items` after dbt.
"""
