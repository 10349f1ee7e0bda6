"""Build partyhub's two C extensions: ``realtime._redislayer`` (the channel
layer the views use) and ``realtime._sidecar`` (the WebSocket server).

Metadata lives in pyproject.toml; this file only declares the Extensions.
Each is every ``csrc/<program>/*.c`` (a glob, so files added later build
too) of its program, ``layer`` or ``sidecar``, with the shared
``csrc/common/*.c``; see csrc/README.md.

Environment:
  PARTYHUB_STRICT=1 or CI   add -Werror
  PARTYHUB_SANITIZE=1       ASan + UBSan build (run Python with LD_PRELOAD=libasan)
  PARTYHUB_DEBUG=1          -O0 -g3
"""

import glob
import os
import shlex
import subprocess
import sys

from setuptools import Extension, setup

# pkg-config names; the first one of each tuple that exists wins (Debian ships
# msgpack-c 4.0 as "msgpack", newer upstream releases as "msgpack-c").
PKG_CONFIG = (
    ("hiredis",),
    ("msgpack-c", "msgpack"),
    ("libwebsockets",),
    ("libuv",),
    ("libcjson",),
    ("zlib",),
    # SHA-256 and constant-time compare of session tokens (conn_auth.c).
    ("libcrypto",),
)


def _pkg_config(names):
    for name in names:
        try:
            out = subprocess.run(
                ["pkg-config", "--cflags", "--libs", name],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            continue
        return shlex.split(out)
    raise SystemExit(
        f"pkg-config found none of {names}; install the -dev packages "
        "(see the top Makefile's deps target)"
    )


def _flags():
    cflags = ["-std=c11", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]
    ldflags = []
    for names in PKG_CONFIG:
        for flag in _pkg_config(names):
            (cflags if flag.startswith(("-I", "-D")) else ldflags).append(flag)
    # libwebsockets.pc does not add -luv; hiredis is linked explicitly too.
    ldflags += ["-luv", "-lhiredis"]
    if os.environ.get("PARTYHUB_STRICT") or os.environ.get("CI"):
        cflags.append("-Werror")
    if os.environ.get("PARTYHUB_DEBUG"):
        cflags += ["-O0", "-g3"]
    if os.environ.get("PARTYHUB_SANITIZE"):
        san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
        cflags += san + ["-fno-sanitize-recover=undefined", "-g"]
        ldflags += san
    return cflags, ldflags


_cflags, _ldflags = _flags()

# Headers generated from the sidecar's tables (never committed; mk/gen.mk
# too). The tables are standard-library modules of the empty `realtime`
# package, importable before anything is installed.
GEN_DIR = "build/gen"
TABLES = ["realtime/c_tables.py", "realtime/settings_table.py", "realtime/counters_table.py"]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from realtime import c_tables  # noqa: E402 - needs the path above

c_tables.write_defs(GEN_DIR)
_stray = sorted(glob.glob("csrc/*.[ch]"))
if _stray:
    # A file merged in from before the split would silently not be built.
    raise SystemExit(
        f"{', '.join(_stray)}: csrc/ is laid out by program; move each file "
        "into csrc/common/, csrc/layer/ or csrc/sidecar/ (csrc/README.md)"
    )


def _extension(name: str, program: str) -> Extension:
    """One extension module: csrc/<program>/ and the shared csrc/common/,
    each directory on the include path (a file includes a header by its
    name alone, "chash.h"), and the generated headers."""
    dirs = ("csrc/common", f"csrc/{program}")
    return Extension(
        name,
        sources=sorted(f for d in dirs for f in glob.glob(f"{d}/*.c")),
        depends=sorted(f for d in dirs for f in glob.glob(f"{d}/*.h")) + TABLES,
        include_dirs=[*dirs, GEN_DIR],
        extra_compile_args=_cflags,
        extra_link_args=_ldflags,
    )


setup(
    ext_modules=[
        # The channel layer the views use (realtime.layer.FastRedisLayer).
        _extension("realtime._redislayer", "layer"),
        # The WebSocket sidecar (realtime.sidecar, runsidecar).
        _extension("realtime._sidecar", "sidecar"),
    ],
)
