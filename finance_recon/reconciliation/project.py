"""The dbt project handle, alone in its module so `dagster-dbt project prepare-and-package --file` can
import it without loading the rest of the platform."""

from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# Under `dagster dev` the manifest is re-parsed on start; installs and CI run prepare-and-package.
dbt_project.prepare_if_dev()
