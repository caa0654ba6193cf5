"""The dbt project handle, alone in its module so `dagster-dbt project prepare-and-package --file` can
import it without loading the rest of the platform."""

from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

# The manifest is prepared once by `make prepare` (dagster-dbt project prepare-and-package), which
# `make demo/test/dev` run first. No `prepare_if_dev()`: under `dagster dev` every process importing
# this module (code server, run worker, each step) would re-parse into the same target/ at once.
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
