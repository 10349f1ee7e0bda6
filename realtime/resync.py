"""Daphne's sockets after Redis lost data: re-join the groups, start again from the database.

Redis may come back empty (a restart without persistence, FLUSHALL, a
Sentinel failover that lost the last writes): the groups' memberships of
this process' sockets are gone, and the events sent meanwhile never reached
them. One task per process watches every Redis host's READY_KEY
(realtime.snapshot: it holds the host's run_id once the relay rebuilt the
host's keys) once a second; when it changes — missing, or another value —
or the host answers again after failing, every registered socket re-adds
its memberships and is sent its state again from the database
(`GameConsumer.resync`), so it converges on the database whatever it
missed. The sidecar does the same in C on its reconnects.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from channels.layers import get_channel_layer

from . import keys

logger = logging.getLogger("realtime.resync")

INTERVAL = 1.0
_DOWN = object()  # the host did not answer


class Watcher:
    """Watches the hosts' markers for this process' sockets."""

    def __init__(self) -> None:
        self.sockets: weakref.WeakSet = weakref.WeakSet()
        self.task: asyncio.Task | None = None
        self.seen: dict[int, object] = {}

    def add(self, socket) -> None:
        """Resync `socket` (an object with `async resync()`) whenever a host resets."""
        self.sockets.add(socket)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run())

    def discard(self, socket) -> None:
        self.sockets.discard(socket)

    async def run(self) -> None:
        layer = get_channel_layer()
        while self.sockets:
            if hasattr(layer, "connection"):
                changed = [i for i in range(layer.ring_size) if await self.changed(layer, i)]
                if changed:
                    logger.warning(
                        "Redis host(s) %s lost or reset: resyncing %d socket(s)",
                        changed,
                        len(self.sockets),
                    )
                    for socket in list(self.sockets):
                        try:
                            await socket.resync()
                        except Exception as exc:  # one socket's failure is not the others'
                            logger.warning("resync failed: %s", exc)
            await asyncio.sleep(INTERVAL)

    async def changed(self, layer, index: int) -> bool:
        """Whether host `index`'s marker differs from the last one seen."""
        try:
            value = await layer.connection(index).get(keys.KEY_READY)
        except Exception:  # redis-py's errors, OSError: the host is down
            value = _DOWN
        before = self.seen.get(index, value)
        self.seen[index] = value
        return value is not _DOWN and value != before


_watchers: dict[int, Watcher] = {}


def watcher() -> Watcher:
    """The process' watcher (one per event loop)."""
    loop = asyncio.get_running_loop()
    found = _watchers.get(id(loop))
    if found is None:
        found = _watchers[id(loop)] = Watcher()
    return found
