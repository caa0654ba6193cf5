"""Run facts and run safety: one reconciliation at a time (an OS lock), dead runs detected and
marked failed, and the one read model of "why did this run fail" shared by the CLI, the sensors
and `diagnose`."""
