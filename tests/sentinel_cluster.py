"""A private Redis Sentinel cluster on loopback for the tests.

A master redis-server, one replica and three redis-sentinel processes, each
on a free 127.0.0.1 port with its own temporary directory, with failover
timing short enough for a test (down-after 1 s):

    with SentinelCluster() as cluster:
        cluster.host_config()        # a CHANNEL_LAYERS "hosts" entry
        cluster.channel_layers()     # a whole CHANNEL_LAYERS setting
        old = cluster.kill_master()  # SIGKILL the master
        cluster.wait_failover(old)   # the sentinels agree on a new one

Stable API (the sidecar's tests use it too): SentinelCluster(master_name,
password, sentinel_password, down_after_ms, failover_timeout_ms),
start/close, servers, sentinels, master, master_address(), sentinel_ports,
sentinel_addresses(), host_config(db, **options), channel_layers(db,
**config), kill_master(), wait_failover(old, timeout), wait_replicated(),
switch_master(), revive(server), client(server), server_at(port),
replicas(); a server (DataNode, a partyhub.redisproc
RedisServer) has port, password, role(), client(), kill().

Debian's redis-sentinel package also installs a system service on port
26379; nothing here uses it (the package's service may or may not run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import redis

from partyhub.redisproc import RedisServer

HOST = "127.0.0.1"


def sentinel_binary() -> str:
    binary = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"
    if not os.path.exists(binary):
        raise RuntimeError("redis-sentinel is not installed: `make setup` installs it")
    return binary


def wait_for(predicate, timeout: float, what: str, step: float = 0.05):
    """Poll predicate() until it returns a true value (returned) or raise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(step)


class DataNode(RedisServer):
    """A redis-server of the cluster (master or replica), with its password."""

    def __init__(self, password: str | None, replicaof: int | None = None) -> None:
        self.password = password
        super().__init__(extra_args=self.node_args(replicaof))

    def node_args(self, replicaof: int | None = None) -> tuple[str, ...]:
        """redis-server arguments: the password, fast sync, maybe replicaof."""
        # Diskless sync waits 5 s by default for more replicas: not here.
        args = ["--repl-diskless-sync-delay", "0"]
        if self.password:
            args += ["--requirepass", self.password, "--masterauth", self.password]
        if replicaof:
            args += ["--replicaof", HOST, str(replicaof)]
        return tuple(args)

    def ping(self) -> bool:
        try:
            return bool(self.client().ping())
        except (redis.RedisError, OSError):
            return False

    def client(self, **kwargs) -> redis.Redis:
        """A short-timeout redis-py client for checks (not for the code under test)."""
        return redis.Redis(
            host=HOST, port=self.port, password=self.password, socket_timeout=2, **kwargs
        )

    def role(self) -> str | None:
        """'master', 'slave', or None when the node does not answer."""
        try:
            reply = self.client().execute_command("ROLE")
        except (redis.RedisError, OSError):
            return None
        role = reply[0]
        return role.decode() if isinstance(role, bytes) else role


class SentinelProcess(RedisServer):
    """One redis-sentinel process monitoring the cluster's master."""

    def __init__(self, cluster: SentinelCluster, master_port: int) -> None:
        super().__init__()
        self.cluster = cluster
        self.master_port = master_port
        self.conf = os.path.join(self.dir, "sentinel.conf")

    def write_config(self) -> None:
        c = self.cluster
        name = c.master_name
        lines = [
            f"port {self.port}",
            f"bind {HOST}",
            "daemonize no",
            f"dir {self.dir}",
            f"logfile {os.path.join(self.dir, 'redis.log')}",  # where RedisServer looks
            f"sentinel monitor {name} {HOST} {self.master_port} 2",
            f"sentinel down-after-milliseconds {name} {c.down_after_ms}",
            f"sentinel failover-timeout {name} {c.failover_timeout_ms}",
            f"sentinel parallel-syncs {name} 1",
        ]
        if c.password:
            lines.append(f"sentinel auth-pass {name} {c.password}")
        if c.sentinel_password:
            lines.append(f"requirepass {c.sentinel_password}")
            lines.append(f"sentinel sentinel-pass {c.sentinel_password}")
        with open(self.conf, "w") as out:
            out.write("\n".join(lines) + "\n")

    def start(self) -> SentinelProcess:
        """Launch without waiting (the cluster starts all three, then waits)."""
        self.write_config()
        self.process = subprocess.Popen(
            [sentinel_binary(), self.conf],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self

    def client(self) -> redis.Redis:
        return redis.Redis(
            host=HOST, port=self.port, password=self.cluster.sentinel_password, socket_timeout=2
        )

    def ping(self) -> bool:
        try:
            return bool(self.client().ping())
        except (redis.RedisError, OSError):
            return False

    def master_address(self) -> tuple[str, int] | None:
        """This sentinel's answer to SENTINEL get-master-addr-by-name."""
        try:
            reply = self.client().execute_command(
                "SENTINEL", "get-master-addr-by-name", self.cluster.master_name
            )
        except (redis.RedisError, OSError):
            return None
        if not reply:
            return None
        host, port = reply
        return (host.decode() if isinstance(host, bytes) else host, int(port))

    def knows(self, what: str) -> int:
        """How many peers of a kind ('sentinels', 'replicas') this sentinel knows."""
        try:
            return len(self.client().execute_command("SENTINEL", what, self.cluster.master_name))
        except (redis.RedisError, OSError):
            return 0


class SentinelCluster:
    """A master, a replica and three sentinels, all private to the test run."""

    def __init__(
        self,
        master_name: str = "partyhub",
        password: str | None = None,
        sentinel_password: str | None = None,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 2000,
    ) -> None:
        self.master_name = master_name
        self.password = password
        self.sentinel_password = sentinel_password
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.servers: list[DataNode] = []
        self.sentinels: list[SentinelProcess] = []

    # -- lifecycle -----------------------------------------------------

    def start(self) -> SentinelCluster:
        try:
            master = DataNode(self.password).start()
            self.servers.append(master)
            replica = DataNode(self.password, replicaof=master.port).start()
            self.servers.append(replica)
            wait_for(lambda: self._link_up(replica), 15, "the replica to sync")
            self.sentinels = [SentinelProcess(self, master.port).start() for _ in range(3)]
            for sentinel in self.sentinels:
                sentinel.wait_ready()
            # A failover needs a quorum and a majority that know each other
            # (hello messages every 2 s) and a replica to promote.
            wait_for(self._sentinels_acquainted, 20, "the sentinels to discover each other")
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        for process in (*self.sentinels, *self.servers):
            process.close()

    def __enter__(self) -> SentinelCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- configuration for the code under test ---------------------------

    @property
    def sentinel_ports(self) -> list[int]:
        return [s.port for s in self.sentinels]

    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [(HOST, s.port) for s in self.sentinels]

    def host_config(self, db: int = 0, **options) -> dict:
        """One CHANNEL_LAYERS "hosts" entry in channels_redis's Sentinel form;
        options (e.g. socket_timeout) go to the master's connections."""
        host: dict = {
            "sentinels": self.sentinel_addresses(),
            "master_name": self.master_name,
            "db": db,
            **options,
        }
        if self.password:
            host["password"] = self.password
        if self.sentinel_password:
            host["sentinel_kwargs"] = {"password": self.sentinel_password}
        return host

    def channel_layers(self, db: int = 0, **config) -> dict:
        """A whole CHANNEL_LAYERS setting using channels_redis over this cluster."""
        return {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [self.host_config(db)], **config},
            }
        }

    # -- state and failover ------------------------------------------------

    def master_address(self) -> tuple[str, int] | None:
        """The master the sentinels name, when they all agree; else None."""
        answers = {s.master_address() for s in self.sentinels}
        if len(answers) != 1:
            return None
        return answers.pop()

    @property
    def master(self) -> DataNode:
        """The server the sentinels currently name as master."""
        address = wait_for(self.master_address, 10, "the sentinels to agree on a master")
        return self.server_at(address[1])

    def server_at(self, port: int) -> DataNode:
        for server in self.servers:
            if server.port == port:
                return server
        raise KeyError(f"no server of the cluster on port {port}")

    def replicas(self) -> list[DataNode]:
        """Live servers that say they are replicas."""
        return [s for s in self.servers if s.role() == "slave"]

    def client(self, server: DataNode | None = None) -> redis.Redis:
        """A redis-py client to server (default: the current master)."""
        return (server or self.master).client()

    def kill_master(self) -> DataNode:
        """SIGKILL the current master, as a crash would; returns it."""
        old = self.master
        old.kill()
        return old

    def wait_failover(self, old: DataNode, timeout: float = 30) -> DataNode:
        """Wait until every sentinel names a master other than old and that
        server says ROLE master; returns the new master."""

        def promoted() -> DataNode | None:
            address = self.master_address()
            if address is None or address[1] == old.port:
                return None
            server = self.server_at(address[1])
            return server if server.role() == "master" else None

        return wait_for(promoted, timeout, "the sentinels to fail over", step=0.1)

    def wait_replicated(self, timeout: float = 10) -> None:
        """Block until every live replica has every write of the master
        (WAIT), so that a kill loses nothing a test relies on."""
        replicas = len(self.replicas())
        acked = self.master.client().execute_command("WAIT", replicas, int(timeout * 1000))
        if acked < replicas:
            raise RuntimeError(f"{acked} of {replicas} replicas caught up within {timeout:g} s")

    def switch_master(self, timeout: float = 20) -> tuple[DataNode, DataNode]:
        """Demote the master *without* closing its clients, as Redis's
        FAILOVER command does, then point every sentinel at the new master.

        Clients still connected to the old master get READONLY for writes
        (UNBLOCKED for blocked pops). Returns (old, new)."""
        old = self.master
        new = next(s for s in self.servers if s is not old and s.role() == "slave")
        old.client().execute_command("FAILOVER", "TO", HOST, new.port)
        wait_for(
            lambda: new.role() == "master" and old.role() == "slave", timeout, "FAILOVER to finish"
        )
        name = self.master_name
        for sentinel in self.sentinels:
            client = sentinel.client()
            client.execute_command("SENTINEL", "REMOVE", name)
            client.execute_command("SENTINEL", "MONITOR", name, HOST, new.port, 2)
            options = ["down-after-milliseconds", self.down_after_ms]
            options += ["failover-timeout", self.failover_timeout_ms]
            if self.password:
                options += ["auth-pass", self.password]
            client.execute_command("SENTINEL", "SET", name, *options)
        wait_for(lambda: self.master_address() == (HOST, new.port), timeout, "the sentinels")
        wait_for(self._sentinels_acquainted, timeout, "the sentinels to discover each other")
        return old, new

    def revive(self, server: DataNode) -> DataNode:
        """Restart a killed server as a replica of the current master (what the
        sentinels would reconfigure it to), and wait until it has synced."""
        server.extra_args = server.node_args(replicaof=self.master.port)
        server.start()
        wait_for(lambda: self._link_up(server), 15, "the revived server to sync")
        return server

    # -- internals -----------------------------------------------------------

    @staticmethod
    def _link_up(replica: DataNode) -> bool:
        try:
            info = replica.client().info("replication")
        except (redis.RedisError, OSError):
            return False
        return info.get("master_link_status") == "up"

    def _sentinels_acquainted(self) -> bool:
        peers = len(self.sentinels) - 1
        return all(
            s.knows("sentinels") >= peers and s.knows("replicas") >= 1 for s in self.sentinels
        )
