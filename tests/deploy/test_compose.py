"""docker-compose.yml + .env.example, validated by the real Compose v2 binary (no engine needed)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.deploy.deploy_helpers import DEPLOY, PROJECT_ROOT, compose_binary, run

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
SERVICES = {
    "mysql", "postgres", "minio", "minio-init", "trino", "spark-master", "spark-worker",
    "dagster-user-code", "dagster-webserver", "dagster-daemon", "metrics-exporter",
    "prometheus", "alertmanager", "grafana",
}  # fmt: skip
ONE_SHOT = {"minio-init"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|ACCESS_KEY|WEBHOOK_URL|ROOT_USER")


def compose(*args: str, env_file: bool = True):
    cmd = [compose_binary(), "--project-directory", str(PROJECT_ROOT), "-f", str(COMPOSE_FILE)]
    if env_file:
        cmd += ["--env-file", str(ENV_EXAMPLE)]
    # A clean environment: a developer's exported variables or .env must not make the test pass.
    return run([*cmd, *args], cwd=PROJECT_ROOT.parent)


@pytest.fixture(scope="module")
def resolved() -> dict:
    result = compose("config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_config_quiet_accepts_the_stack_with_env_example():
    result = compose("config", "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_secrets_are_required_not_committed():
    result = compose("config", "--quiet", env_file=False)
    assert result.returncode != 0
    assert "required variable" in result.stderr and "is missing a value" in result.stderr


def test_every_secret_in_the_compose_file_is_a_required_variable():
    doc = yaml.safe_load(COMPOSE_FILE.read_text())
    envs = [doc["x-finance-recon-app"]["environment"]] + [
        s.get("environment") or {} for s in doc["services"].values() if isinstance(s.get("environment"), dict)
    ]
    checked = 0
    for env in envs:
        for name, value in env.items():
            if SECRET_NAME.search(name) and "WEBHOOK_URL" not in name:
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", str(value)), (
                    f"{name}={value!r} is not ${{VAR:?}}"
                )
                checked += 1
    assert checked >= 10
    # Secrets embedded in URLs are required variables too.
    text = COMPOSE_FILE.read_text()
    for url_secret in ("MYSQL_PASSWORD", "POSTGRES_PASSWORD"):
        assert f"${{{url_secret}:?" in text


def test_env_example_defines_every_variable_and_holds_only_placeholders():
    text = "\n".join(ln for ln in COMPOSE_FILE.read_text().splitlines() if not ln.lstrip().startswith("#"))
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    defined = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            defined[key.strip()] = value.strip()
    assert required <= set(defined), required - set(defined)
    for key, value in defined.items():
        if re.search(r"PASSWORD|SECRET", key):
            assert value.startswith("change-me"), f"{key} in .env.example must be a change-me placeholder"
    assert ".env" in (PROJECT_ROOT / ".dockerignore").read_text().split()


def test_all_services_present_with_healthchecks(resolved):
    services = resolved["services"]
    assert set(services) >= SERVICES, SERVICES - set(services)
    for name, service in services.items():
        if name in ONE_SHOT:
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_images_match_the_contract(resolved):
    services = resolved["services"]
    assert services["mysql"]["image"].startswith("mysql:8")
    assert services["postgres"]["image"] == "postgres:16"
    for name in ("dagster-user-code", "dagster-webserver", "dagster-daemon", "metrics-exporter"):
        assert services[name]["build"]["dockerfile"] == "Dockerfile"
    assert (PROJECT_ROOT / "Dockerfile").is_file()


def test_published_ports_are_loopback_only(resolved):
    for name, service in resolved["services"].items():
        for port in service.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} beyond loopback"


def test_bind_mounts_point_at_files_in_the_repo(resolved):
    binds = 0
    for name, service in resolved["services"].items():
        for volume in service.get("volumes", []):
            if volume["type"] == "bind":
                binds += 1
                assert volume["source"].startswith(str(PROJECT_ROOT)), (name, volume)
                assert (PROJECT_ROOT / volume["source"][len(str(PROJECT_ROOT)) + 1 :]).exists(), (
                    name,
                    volume,
                )
    assert binds >= 10


def test_monitoring_is_provisioned_from_deploy(resolved):
    services = resolved["services"]

    def mounts(name):
        return {v["target"]: v["source"] for v in services[name].get("volumes", []) if v["type"] == "bind"}

    assert mounts("prometheus")["/etc/prometheus"] == str(DEPLOY / "prometheus")
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
    assert mounts("alertmanager")["/etc/alertmanager"] == str(DEPLOY / "alertmanager")
    assert "--cluster.listen-address=" in services["alertmanager"]["command"]
    assert [s["source"] for s in services["alertmanager"]["secrets"]] == ["alertmanager_slack_webhook_url"]
    grafana = mounts("grafana")
    assert grafana["/etc/grafana/provisioning/datasources"] == str(
        DEPLOY / "grafana/provisioning/datasources"
    )
    assert grafana["/etc/grafana/provisioning/dashboards"] == str(DEPLOY / "grafana/provisioning/dashboards")
    assert grafana["/var/lib/grafana/dashboards"] == str(DEPLOY / "grafana/dashboards")
    # Prometheus scrapes the exporter service on the port it serves.
    prom = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "finance_recon")
    assert job["static_configs"][0]["targets"] == ["metrics-exporter:9108"]
    assert services["metrics-exporter"]["command"][-4:] == ["--host", "0.0.0.0", "--port", "9108"]


def test_dagster_uses_postgres_storage_and_the_workspace(resolved):
    services = resolved["services"]
    for name in ("dagster-user-code", "dagster-webserver", "dagster-daemon"):
        targets = {v["target"]: v["source"] for v in services[name]["volumes"] if v["type"] == "bind"}
        assert targets["/opt/dagster/home/dagster.yaml"] == str(DEPLOY / "dagster/dagster.postgres.yaml")
        assert services[name]["environment"]["DAGSTER_HOME"] == "/opt/dagster/home"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    workspace = yaml.safe_load((DEPLOY / "dagster/workspace.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    assert (server["host"], server["port"]) == ("dagster-user-code", 4000)
    assert services["dagster-daemon"]["command"][:2] == ["dagster-daemon", "run"]


def test_minio_bucket_creator_makes_finance_reports(resolved):
    services = resolved["services"]
    script = "\n".join(services["minio-init"]["command"])
    assert "mc mb --ignore-existing local/finance-reports" in script
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    app_env = services["metrics-exporter"]["environment"]
    assert app_env["FINANCE_RECON_REPORTS_URI"] == "s3://finance-reports"
    # The production engine is Trino over Iceberg: its JDBC catalog in the stack's PostgreSQL, its
    # files in MinIO, as deploy/trino/etc/catalog/iceberg.properties says to Trino.
    assert app_env["FINANCE_RECON_WAREHOUSE_TARGET"] == "trino"
    assert app_env["FINANCE_RECON_TRINO_HOST"] == "trino"
    assert app_env["FINANCE_RECON_ICEBERG_WAREHOUSE"] == "s3://warehouse/"
    assert app_env["FINANCE_RECON_ICEBERG_CATALOG_URL"].endswith("@postgres:5432/iceberg_catalog")
    assert services["trino"]["image"].endswith(":476")
    assert app_env["FINANCE_RECON_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert (
        services["metrics-exporter"]["depends_on"]["minio-init"]["condition"]
        == "service_completed_successfully"
    )


def test_trino_catalogs():
    catalogs = {}
    for path in (DEPLOY / "trino/etc/catalog").glob("*.properties"):
        props = dict(
            line.split("=", 1)
            for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        )
        catalogs[path.stem] = props
    assert {name: c["connector.name"] for name, c in catalogs.items()} == {
        "mysql": "mysql",
        "postgresql": "postgresql",
        "iceberg": "iceberg",
    }
    for props in catalogs.values():
        for key, value in props.items():
            if "password" in key or "secret" in key:
                assert value.startswith("${ENV:"), f"{key} must come from the environment"


def test_trino_catalogs_are_rendered_from_the_one_template(tmp_path):
    """deploy/trino/etc/catalog is exactly what the renderer the local server uses writes for compose
    (`make trino-catalogs`): one template, no hand-edited copy drifting from it."""
    from finance_recon.trino.catalogs import compose_catalogs, write_catalogs

    written = write_catalogs(compose_catalogs(), tmp_path)
    shipped = sorted((DEPLOY / "trino/etc/catalog").glob("*.properties"))
    assert [p.name for p in shipped] == sorted(p.name for p in written)
    for path in written:
        assert (DEPLOY / "trino/etc/catalog" / path.name).read_text() == path.read_text(), path.name
