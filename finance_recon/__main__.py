from finance_recon.cli import entry

entry()
