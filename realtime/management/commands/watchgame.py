"""manage.py watchgame: a terminal WebSocket client that prints a game's messages."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode, urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Connect to ws/game/<code>/ like a player (or --host) and print every message."

    def add_arguments(self, parser):
        parser.add_argument("code")
        parser.add_argument("token", help="session_token (player) or host_token (with --host)")
        parser.add_argument("--host", action="store_true", help="connect as the host")
        parser.add_argument(
            "--url",
            default=settings.PARTYHUB_WS_URL or "ws://127.0.0.1:8000",
            help="server base URL (default: PARTYHUB_WS_URL or ws://127.0.0.1:8000)",
        )
        parser.add_argument("--ping", type=float, default=0, help="send a ping every N seconds")

    def handle(self, *args, code, token, host, url, ping, **options):
        try:
            import websockets
        except ImportError as exc:
            raise CommandError("pip install websockets") from exc
        query = {"session_token": token}
        if host:
            query = {"role": "host", **query}
        target = f"{url.rstrip('/')}/ws/game/{code.upper()}/?{urlencode(query)}"
        parsed = urlparse(url)
        origin = f"{'https' if parsed.scheme == 'wss' else 'http'}://{parsed.netloc}"
        try:
            asyncio.run(self._watch(websockets, target, origin, ping))
        except KeyboardInterrupt:
            pass

    async def _watch(self, websockets, target: str, origin: str, ping: float) -> None:
        async with websockets.connect(target, origin=origin) as ws:
            if ping:
                asyncio.get_running_loop().create_task(self._pinger(ws, ping))
            try:
                async for text in ws:
                    self.stdout.write(json.dumps(json.loads(text), ensure_ascii=False))
            except websockets.ConnectionClosed:
                pass
            self.stdout.write(f"closed: code {ws.close_code} {ws.close_reason or ''}".rstrip())

    async def _pinger(self, ws, every: float) -> None:
        n = 0
        while True:
            await asyncio.sleep(every)
            n += 1
            await ws.send(json.dumps({"type": "ping", "ts": n}))
