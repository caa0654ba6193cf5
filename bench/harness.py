"""What every benchmark here shares: the machine and its load, peak RSS, timing, children, seeding the
bench sources, the printed tables and the JSON file.

- `loadavg()`, `machine()`, `git_state()`: what a result says about where and on what it ran;
- `TreeRss`: the peak RSS of a process and all its descendants, sampled from /proc (a CLI run with
  its dbt subprocesses, a Spark JVM); `own_peak_rss_mb()`: this process's own peak (VmHWM);
- `Stages`: named wall-time spans inside one process;
- `spawn()`: run a command, wall seconds and its peak RSS from `wait4`; `run_child()`: one
  benchmark method in a fresh interpreter (`python -m bench.<module> --child …`), its JSON answer;
- `server_urls()`, `seed_sources()`: the generator's shop bulk-loaded (not timed) by the seeder
  `finance-recon seed` uses, into MariaDB (orders) and PostgreSQL (payments);
- `Table`: fixed-width text tables; `write_json()`: the result file.

The benchmarks (each `python -m bench.<name>`): `e2e` (the real CLI vs the raw limit), `paths` (the
in-process embedded / Spark / pandas comparison), `extract`, `reconcile`, `publish`, `raw_limit`.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The generator's shop anchored here holds its ground truth for as_of in [anchor, anchor + 20 min].
ANCHOR = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


# ------------------------------------------------------------------------------ machine and load


def loadavg() -> str:
    """/proc/loadavg as it reads (1, 5, 15 min, runnable/total, last pid)."""
    try:
        with open("/proc/loadavg") as fh:
            return fh.read().strip()
    except OSError:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())


def machine() -> dict:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpus": os.cpu_count(),
        "mem_gb": round(mem_gb),
        "loadavg": loadavg(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""


def git_state() -> dict:
    return {
        "git_head": _git("rev-parse", "HEAD").strip(),
        "git_dirty_files": len([line for line in _git("status", "--short").splitlines() if line.strip()]),
    }


# ----------------------------------------------------------------------------------------- memory


def tree_rss_kb(root: int) -> int:
    """The summed RSS of `root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as fh:
                rss[int(entry)] = int(fh.read().split()[1]) * page_kb
            children.setdefault(ppid, []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


class TreeRss:
    """Peak RSS of a process tree (this process by default), sampled every `interval` seconds until
    `stop()` (or the end of the `with` block)."""

    def __init__(self, pid: int | None = None, interval: float = 0.1) -> None:
        self.pid, self.interval, self.peak_kb = pid or os.getpid(), interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))
            self._stop.wait(self.interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))
        return self.peak_kb

    @property
    def peak_mb(self) -> int:
        return round(self.peak_kb / 1024)

    def __enter__(self) -> TreeRss:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def own_peak_rss_mb() -> float:
    """Peak RSS of this process (VmHWM: unlike ru_maxrss it is not inherited across fork+exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------------------- timing


class Stages:
    """Named wall-time spans: `with stages("extract"): …` records `stages.times["extract"]` (s)."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    def __call__(self, name: str):
        stages = self

        class _Stage:
            def __enter__(self):
                self.t = time.perf_counter()

            def __exit__(self, *exc):
                stages.times[name] = round(time.perf_counter() - self.t, 2)

        return _Stage()


@dataclass(frozen=True)
class Spawned:
    wall_s: float
    peak_rss_mb: float  # ru_maxrss from wait4: the largest member of the child's process tree
    stdout: str
    stderr: str
    returncode: int


def spawn(cmd: Sequence[str], env: dict | None = None) -> Spawned:
    """Run `cmd` in the repository; its wall seconds, peak RSS, output and exit code."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, env=env, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Spawned(
            wall, usage.ru_maxrss / 1024, out.read().decode(), err.read().decode(), proc.returncode
        )


def last_json(stdout: str) -> dict:
    """The JSON document a child printed last."""
    return json.loads(stdout.strip().splitlines()[-1])


def run_child(module: str, args: Sequence[str], env: dict | None = None) -> tuple[dict, Spawned]:
    """`python -m <module> --child …` in a fresh interpreter (so its peak RSS is its own): its last
    JSON line and how it ran. Exits (SystemExit) with the child's stderr when it fails."""
    spawned = spawn([sys.executable, "-m", module, "--child", *args], env)
    if spawned.returncode != 0:
        raise SystemExit(
            f"{module} --child {' '.join(args[:1])} failed (exit {spawned.returncode}):\n{spawned.stderr[-3000:]}"
        )
    return last_json(spawned.stdout), spawned


# ---------------------------------------------------------------------------------------- sources


def server_urls() -> tuple[str, str]:
    """The bench servers, without a database: FINANCE_RECON_BENCH_MYSQL and FINANCE_RECON_BENCH_PG."""
    mysql = os.environ.get("FINANCE_RECON_BENCH_MYSQL", "mysql+pymysql://root@127.0.0.1:3306").rstrip("/")
    pg = os.environ.get("FINANCE_RECON_BENCH_PG", "postgresql://postgres@127.0.0.1:5432").rstrip("/")
    return mysql, pg


@dataclass(frozen=True)
class Seeded:
    orders_url: str
    payments_url: str
    orders: int
    payments: int
    seconds: float


def seed_sources(
    n_orders: int,
    orders_url: str,
    payments_url: str,
    *,
    seed: int = 7,
    anchor: datetime | None = ANCHOR,
    progress: bool = False,
) -> Seeded:
    """`generate_shop(n_orders, seed, anchor)` loaded by the seeder `finance-recon seed` uses (tables
    replaced, databases created where absent). Not timed by the benchmarks; the seconds are reported."""
    from finance_recon.demo.generator import generate_shop
    from finance_recon.demo.seed import seed_shop

    started = time.perf_counter()
    shop = generate_shop(n_orders, seed=seed, anchor=anchor)
    seed_shop(shop, orders_url, payments_url, replace=True, progress=progress)
    seeded = Seeded(
        orders_url, payments_url, shop.orders.num_rows, shop.payments.num_rows, time.perf_counter() - started
    )
    print(
        f"seeded {seeded.orders:,} orders + {seeded.payments:,} payments in {seeded.seconds:.1f}s (not timed)",
        file=sys.stderr,
        flush=True,
    )
    return seeded


def seed_bench_databases(n_orders: int, db_prefix: str, **kwargs) -> Seeded:
    """`seed_sources` into a database `<db_prefix>_<n_orders>` on each bench server."""
    mysql, pg = server_urls()
    db = f"{db_prefix}_{n_orders}"
    return seed_sources(n_orders, f"{mysql}/{db}", f"{pg}/{db}", **kwargs)


# ----------------------------------------------------------------------------------------- output


@dataclass(frozen=True)
class Column:
    header: str
    width: int
    fmt: str = ""  # a format spec for the value, e.g. ".2f", ",.0f"; left-aligned when `left`
    left: bool = False


class Table:
    """A fixed-width text table: `header()`, then `row(values)` per row (None prints as `-`)."""

    def __init__(self, columns: Iterable[Column], indent: str = "") -> None:
        self.columns, self.indent = list(columns), indent

    def _cell(self, col: Column, text: str) -> str:
        return f"{text:<{col.width}}" if col.left else f"{text:>{col.width}}"

    def header(self) -> str:
        return self.indent + "".join(self._cell(c, c.header) for c in self.columns)

    def row(self, values: Sequence) -> str:
        cells = [
            self._cell(c, "-" if v is None else format(v, c.fmt))
            for c, v in zip(self.columns, values, strict=True)
        ]
        return self.indent + "".join(cells)


def write_json(result: dict, path: Path) -> Path:
    """The result as a JSON file (its folder created); says where on stderr."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str))
    print(f"results: {path}", file=sys.stderr)
    return path
