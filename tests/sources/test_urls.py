"""Source URLs whose credentials cannot be parsed unambiguously are refused without echoing the
secret; the same characters percent-encoded are accepted and decoded."""

from __future__ import annotations

import pytest

from finance_recon.sources.errors import ContractViolationError
from finance_recon.sources.urls import SourceUrl, redact

SECRET_TAIL = "Tail-7781"


@pytest.mark.parametrize(
    "raw",
    [
        f"postgresql://rel_user:Xq9@{SECRET_TAIL}@127.0.0.1:5432/payments",  # '@'
        f"mysql+pymysql://rel_user:Xq9:{SECRET_TAIL}@127.0.0.1:3306/oltp",  # ':'
        f"postgresql://rel_user:Xq9/{SECRET_TAIL}@127.0.0.1:5432/payments",  # '/'
        f"postgresql://rel_user:Xq9?{SECRET_TAIL}@127.0.0.1:5432/payments",  # '?'
        f"mysql://rel_user:Xq9#{SECRET_TAIL}@127.0.0.1:3306/oltp",  # '#'
    ],
)
def test_ambiguous_credentials_are_refused_without_the_secret(raw):
    with pytest.raises(ContractViolationError) as refused:
        SourceUrl.parse(raw)
    message = str(refused.value)
    assert "cannot be parsed unambiguously" in message and "percent-encode" in message
    for fragment in (SECRET_TAIL, "Xq9", "rel_user"):  # neither half of the secret, nor the user
        assert fragment not in message
        assert fragment not in redact(raw)


@pytest.mark.parametrize(
    ("raw", "password"),
    [
        ("postgresql://rel_user:pa%40Tail-7781@127.0.0.1:5432/payments", "pa@Tail-7781"),
        ("mysql+pymysql://rel_user:pa%3ATail-7781@127.0.0.1:3306/oltp", "pa:Tail-7781"),
        ("postgresql://rel_user:pa%2FTail-7781@127.0.0.1:5432/payments", "pa/Tail-7781"),
        ("postgresql://rel_user:p%40%3A%2F%3F%23w@db.internal:5432/payments?sslmode=require", "p@:/?#w"),
    ],
)
def test_percent_encoded_credentials_are_accepted(raw, password):
    url = SourceUrl.parse(raw)
    assert url.password == password
    assert url.url.host in ("127.0.0.1", "db.internal")
    assert "Tail-7781" not in url.redacted and "***" in url.redacted


def test_plain_urls_and_duckdb_paths_still_parse():
    assert SourceUrl.parse("postgresql://u:pw@127.0.0.1:5432/payments").url.port == 5432
    assert SourceUrl.parse("mysql+pymysql://root@127.0.0.1:3306/oltp").dialect == "mysql"
    assert SourceUrl.parse("duckdb:////tmp/odd@name/oltp.duckdb").dialect == "duckdb"
