"""The shipped production setup, run for real: deploy/partyhub.env,
deploy/systemd/*.service (their ExecStart lines) and deploy/nginx.conf with
a self-signed certificate made at test time.

Only what is the site's own is replaced: the ports, the certificate, the
host name, the secret key, and the test run's database and Redis
(`SITE`). Everything else is used as shipped.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from django.conf import settings

from partyhub.redisproc import free_port

from .browser_support import ServerUnderTest

ROOT = Path(settings.BASE_DIR)
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
INSTALL_DIR = "/srv/partyhub"  # where the units expect the checkout
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def read_env_file(path: Path) -> dict[str, str]:
    """A systemd EnvironmentFile: KEY=VALUE lines, # comments."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def production_env(**site: str) -> dict[str, str]:
    """This process's environment (PATH, the test run's Redis and database)
    with deploy/partyhub.env on top, then the site's own values: a fresh
    secret key, the test database and Redis, and `site`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PARTYHUB_"))}
    env.update(read_env_file(DEPLOY / "partyhub.env"))
    env.update(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=os.environ["DATABASE_URL"],
        CHANNEL_REDIS_HOST=os.environ["CHANNEL_REDIS_HOST"],
        CHANNEL_REDIS_PORT=os.environ["CHANNEL_REDIS_PORT"],
        PYTHONUNBUFFERED="1",
    )
    env.update(site)
    return env


def exec_start(unit: str, instance: str = "test", **replace: str) -> list[str]:
    """A unit's ExecStart as argv, run from this checkout's interpreter;
    `replace` maps shipped strings (ports, state paths) to the test's; `%i`
    is `instance`, as systemd expands it for a template."""
    text = (UNITS / unit).read_text()
    line = re.search(r"^ExecStart=(.+)$", text, re.M).group(1).replace("%i", instance)
    for old, new in replace.items():
        if old not in line:
            raise AssertionError(f"{unit}: {old!r} not in ExecStart={line}")
        line = line.replace(old, new)
    argv = shlex.split(line)
    binary = Path(argv[0])
    if str(binary.parent) != f"{INSTALL_DIR}/.venv/bin":
        raise AssertionError(f"{unit}: ExecStart does not run from {INSTALL_DIR}/.venv")
    head = [sys.executable] if binary.name == "python" else [sys.executable, "-m", binary.name]
    return head + argv[1:]


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (one day)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", str(key)]
        + ["-out", str(cert), "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True,
        capture_output=True,
    )
    return cert, key


def nginx_site(https: int, http: int, daphne: int, sidecar: int, cert: Path, key: Path) -> str:
    """deploy/nginx.conf with the test's ports and certificate."""
    text = (DEPLOY / "nginx.conf").read_text()
    for old, new in {
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https} ssl http2;",
        "listen 80;": f"listen 127.0.0.1:{http};",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{daphne};",
        "server 127.0.0.1:8001;": f"server 127.0.0.1:{sidecar};",
        "/etc/letsencrypt/live/play.example.com/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/play.example.com/privkey.pem": str(key),
    }.items():
        if text.count(old) != 1:
            raise AssertionError(f"deploy/nginx.conf: expected {old!r} once")
        text = text.replace(old, new)
    return text


NGINX_MAIN = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/partyhub.conf;
}}
"""


def tools_missing() -> str | None:
    """Why the proxy stack cannot run here, or None."""
    for tool in (NGINX, OPENSSL):
        if not os.access(tool, os.X_OK):
            return f"{tool} is not installed (`make setup` installs nginx and openssl)"
    try:
        from realtime import _sidecar  # noqa: F401
    except ImportError:
        return "the C extension is not built"
    return None


class ProxyStack(ServerUnderTest):
    """nginx (deploy/nginx.conf, TLS) in front of Daphne and the sidecar,
    both started as their units start them, with deploy/partyhub.env."""

    name = "proxy"
    ws_url = None  # the pages open wss:// on their own origin, through nginx

    def __init__(self, **extra_env: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="partyhub-proxy-"))
        self.dir.chmod(0o755)  # nginx's workers create their temp dirs under it
        self.https_port, self.http_port = free_port(), free_port()
        self.daphne_port, self.ws_port = free_port(), free_port()
        self.http_url = f"https://127.0.0.1:{self.https_port}"
        self.origin = self.http_url
        self.extra_env = extra_env
        self.processes: dict[str, subprocess.Popen] = {}
        self.log_path = self.dir / "proxy.log"
        self.cert: Path | None = None

    def env(self) -> dict[str, str]:
        return production_env(
            DJANGO_ALLOWED_HOSTS="127.0.0.1",
            DJANGO_CSRF_TRUSTED_ORIGINS=self.origin,
            DJANGO_STATIC_ROOT=str(self.dir / "static"),
            **self.extra_env,
        )

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = self.open_log(self.log_path.with_name(f"{self.log_path.stem}-{name}.log"), True)
        process = subprocess.Popen(
            argv, env=self.env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.processes[name] = process
        return process

    def wait(self, name: str, check, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited: see {self.log_path.parent}")
            try:
                check()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{name}: {what} within {timeout} s: see {self.log_path.parent}")

    def start(self) -> None:
        self.cert, key = make_certificate(self.dir)
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            env=self.env(),
            cwd=ROOT,
            check=True,
        )
        self.spawn(
            "daphne",
            exec_start("partyhub-daphne.service", **{"--port 8000": f"--port {self.daphne_port}"}),
        )
        self.spawn(
            "sidecar",
            exec_start(
                "partyhub-sidecar@.service",
                **{
                    "--bind 127.0.0.1:8001": f"--bind 127.0.0.1:{self.ws_port}",
                    "/var/lib/partyhub/": f"{self.dir}/",  # StateDirectory=
                },
            ),
        )
        (self.dir / "partyhub.conf").write_text(
            nginx_site(
                self.https_port, self.http_port, self.daphne_port, self.ws_port, self.cert, key
            )
        )
        (self.dir / "nginx.conf").write_text(NGINX_MAIN.format(dir=self.dir))
        nginx = [NGINX, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")]
        nginx += ["-e", str(self.dir / "error.log"), "-g", "daemon off;"]
        self.spawn("nginx", nginx)
        self.wait("daphne", lambda: _connect(self.daphne_port), "no Daphne")
        self.wait(
            "sidecar", lambda: _get(f"http://127.0.0.1:{self.ws_port}/healthz"), "no /healthz"
        )
        self.wait("nginx", lambda: _get(f"{self.http_url}/", self.tls()), "no page over https")

    def daphne_log(self) -> str:
        """What Daphne wrote (its access log names each request's client)."""
        path = self.log_path.with_name(f"{self.log_path.stem}-daphne.log")
        return path.read_text(errors="replace") if path.exists() else ""

    def tls(self) -> ssl.SSLContext:
        """A client context that trusts the test certificate (and only it)."""
        return ssl.create_default_context(cafile=str(self.cert))

    def close(self) -> None:
        for name in ("nginx", "sidecar", "daphne"):
            self.terminate(self.processes.get(name), 15)
        error_log = self.dir / "error.log"
        if error_log.exists() and self.log_path.parent.is_dir():
            shutil.copy(error_log, self.log_path.with_name(f"{self.log_path.stem}-nginx-error.log"))
        shutil.rmtree(self.dir, ignore_errors=True)


def _connect(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def _get(url: str, context: ssl.SSLContext | None = None) -> None:
    with urllib.request.urlopen(url, timeout=2, context=context):
        pass
