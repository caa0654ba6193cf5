"""Object storage for report artifacts: a local folder laid out like the bucket, or S3 through dagster-aws.

Keys are relative to the store root (`finance-reports/`): `dt=YYYY-MM-DD/run=<id>/breaks.csv`, `latest.json`.
Writes are whole-object (S3 PUT, or a temp file renamed into place locally), so a reader never sees
half a file; ordering (manifest last, then latest.json) is the publisher's job. Nothing here deletes
a run's files: a kept manifest may reference an earlier run's breaks (manifest schema 2), so any
retention must keep every object a kept manifest's `files[].key` names, wherever it lies. Locally, a failed
write removes its temporary file, the leftovers of a writer killed mid-write are swept by the next
write to that folder (and all of them when `latest.json` is written), and files get the normal
mode (0666 minus the umask, so 0644 by default).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse


class StoreError(RuntimeError):
    """The report store could not be read or written (unreachable, denied, full)."""


class ReportStore(Protocol):
    uri: str

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...

    def get(self, key: str) -> bytes | None: ...

    # Streaming twins of put/get for artifacts too large to hold in memory (breaks at 10M orders).
    def put_file(self, key: str, source: Path, content_type: str = "application/octet-stream") -> None: ...

    def get_file(self, key: str, destination: Path) -> bool: ...

    def size(self, key: str) -> int | None: ...

    def list_keys(self, prefix: str = "") -> list[str]: ...

    def delete(self, key: str) -> None: ...

    def url_for(self, key: str) -> str: ...

    def link_for(self, key: str, expiry_seconds: int) -> str: ...


def _umask() -> int:
    """The process umask, read without changing it (Linux /proc), else by the classic swap."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temp_prefix(name: str) -> str:
    # Host and pid in the name: a leftover of a dead writer is recognisable and swept (`_sweep`).
    return f".{name}.{socket.gethostname()}.{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _sweep(directory: Path) -> None:
    """Remove temporary files left in `directory` by writers of this host that died mid-write."""
    host = socket.gethostname()
    try:
        entries = list(directory.iterdir())
    except OSError:
        return
    for entry in entries:
        parts = entry.name.split(".")
        # ".<name>.<host>.<pid>.<random>", where <name> and <host> may hold dots themselves.
        if not entry.name.startswith(".") or len(parts) < 5 or f".{host}." not in entry.name:
            continue
        pid_text = entry.name.split(f".{host}.", 1)[1].split(".", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text)):
            with contextlib.suppress(OSError):
                entry.unlink()


class LocalReportStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.uri = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / key

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._write(key, lambda fh: fh.write(data))

    def put_file(self, key: str, source: Path, content_type: str = "application/octet-stream") -> None:
        def copy(fh) -> None:
            with open(source, "rb") as src:
                shutil.copyfileobj(src, fh, 1 << 20)

        self._write(key, copy)

    def _write(self, key: str, write) -> None:
        path = self._path(key)
        tmp: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _sweep(path.parent)
            if key == "latest.json":  # the end of a publish: also the leftovers of killed runs
                for folder in {p.parent for p in self.root.rglob(".*") if p.is_file()}:
                    _sweep(folder)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path.name))
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), 0o666 & ~_umask())  # a normal file (0644), not mkstemp's 0600
                write(fh)
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:
            raise StoreError(f"cannot write {path}: {exc}") from exc
        finally:
            if tmp is not None:  # a failed write (e.g. disk full) leaves no temporary file behind
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def get_file(self, key: str, destination: Path) -> bool:
        path = self._path(key)
        try:
            shutil.copyfile(path, destination)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc
        return True

    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when it does not exist (read without its content)."""
        path = self._path(key)
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc

    def delete(self, key: str) -> None:
        """Remove `key` (gone already is fine) and the folders it leaves empty, up to the root."""
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
            for folder in path.parents:
                if folder == self.root or self.root not in folder.parents:
                    break
                if any(folder.iterdir()):
                    break
                folder.rmdir()
        except OSError as exc:
            raise StoreError(f"cannot delete {path}: {exc}") from exc

    def list_keys(self, prefix: str = "") -> list[str]:
        base = self.root
        if not base.exists():
            return []
        keys = [
            p.relative_to(base).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        ]
        return sorted(k for k in keys if k.startswith(prefix))

    def url_for(self, key: str) -> str:
        return self._path(key).resolve().as_uri()

    def link_for(self, key: str, expiry_seconds: int) -> str:
        """A link a person can open: for a folder, the file's `file://` URI (no expiry)."""
        return self.url_for(key)


class S3ReportStore:
    """`client` is a boto3 S3 client, normally from `dagster_aws.s3.S3Resource.get_client()`."""

    def __init__(self, uri: str, client: Any, endpoint_url: str | None = None):
        parsed = urlparse(uri)
        self.uri = uri
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.client = client
        self.endpoint_url = endpoint_url

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _write(self, key: str, send: Callable[[str], Any]) -> None:
        """`send(s3_key)`, with any S3 failure as a `StoreError` naming the object."""
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            send(self._key(key))
        except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
            raise StoreError(f"cannot write s3://{self.bucket}/{self._key(key)}: {exc}") from exc

    def _read(self, key: str, fetch: Callable[[str], Any]) -> Any:
        """`fetch(s3_key)`, or None when the object does not exist; other failures as a `StoreError`."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fetch(self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise StoreError(f"cannot read s3://{self.bucket}/{self._key(key)}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"cannot read s3://{self.bucket}/{self._key(key)}: {exc}") from exc

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._write(
            key,
            lambda k: self.client.put_object(Bucket=self.bucket, Key=k, Body=data, ContentType=content_type),
        )

    def put_file(self, key: str, source: Path, content_type: str = "application/octet-stream") -> None:
        """Streamed from the file (boto3's managed transfer: multipart above 8 MB)."""
        self._write(
            key,
            lambda k: self.client.upload_file(
                str(source), self.bucket, k, ExtraArgs={"ContentType": content_type}
            ),
        )

    def get(self, key: str) -> bytes | None:
        return self._read(key, lambda k: self.client.get_object(Bucket=self.bucket, Key=k)["Body"].read())

    def get_file(self, key: str, destination: Path) -> bool:
        def download(k: str) -> bool:
            self.client.download_file(self.bucket, k, str(destination))
            return True

        return self._read(key, download) is not None

    def size(self, key: str) -> int | None:
        """The object's size in bytes (a HEAD request), or None when it does not exist."""
        return self._read(
            key, lambda k: int(self.client.head_object(Bucket=self.bucket, Key=k)["ContentLength"])
        )

    def delete(self, key: str) -> None:
        """Remove `key` (S3 answers 204 whether or not it existed)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"cannot delete s3://{self.bucket}/{self._key(key)}: {exc}") from exc

    def list_keys(self, prefix: str = "") -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        keys: list[str] = []
        full_prefix = self._key(prefix) if prefix else (f"{self.prefix}/" if self.prefix else "")
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=full_prefix
            ):
                for obj in page.get("Contents", []):
                    k = obj["Key"]
                    keys.append(k[len(self.prefix) + 1 :] if self.prefix else k)
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"cannot list s3://{self.bucket}/{full_prefix}: {exc}") from exc
        return sorted(keys)

    def url_for(self, key: str) -> str:
        if self.endpoint_url:
            return f"{self.endpoint_url.rstrip('/')}/{self.bucket}/{self._key(key)}"
        return f"s3://{self.bucket}/{self._key(key)}"

    def _presigner(self) -> Any:
        """The store's client, re-made with SigV4 signing: the client dagster-aws builds keeps
        botocore's default signer, which presigns with SigV2 on custom endpoints (no expiry limit,
        refused by AWS outside old regions). Same endpoint, region, credentials and retry config."""
        if getattr(self, "_sigv4_client", None) is None:
            from botocore.config import Config

            meta = self.client.meta
            credentials = self.client._request_signer._credentials  # the resolved credential chain
            import boto3

            self._sigv4_client = boto3.session.Session().client(
                "s3",
                endpoint_url=meta.endpoint_url,
                region_name=meta.region_name,
                aws_access_key_id=credentials.access_key if credentials else None,
                aws_secret_access_key=credentials.secret_key if credentials else None,
                aws_session_token=credentials.token if credentials else None,
                config=meta.config.merge(Config(signature_version="s3v4")),
            )
        return self._sigv4_client

    def s3_uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def link_for(self, key: str, expiry_seconds: int) -> str:
        """A presigned HTTPS GET link to the object, valid `expiry_seconds` (SigV4: at most 7 days)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._presigner().generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._key(key)},
                ExpiresIn=int(expiry_seconds),
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"cannot presign {self.s3_uri(key)}: {exc}") from exc
