"""The demo data: a deterministic generator and the seeder that loads it into the sources."""
