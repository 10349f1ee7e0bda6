"""Create the benchmark's games through Django: sessions, players, tokens.

    DATABASE_URL=sqlite:///... CHANNEL_REDIS_PORT=... \
        python bench/setup_games.py --out games.json --games 1000 --players 10

Uses `lobby.services` (the code the REST views run) in one transaction, then
writes what the views write to Redis for WebSocket servers
(`realtime.snapshot`: the `partyhub:session:<CODE>` hash of token digests and
the `partyhub:state:<CODE>` text), so the sidecar checks real tokens and
Daphne/uvicorn's GameConsumer checks them against the database. The output
JSON lists, per game, its code, the host token and the player tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--games", type=int, default=1)
    parser.add_argument("--players", type=int, default=10)
    args = parser.parse_args()
    if not 1 <= args.games <= 100_000 or not 0 <= args.players <= 12:
        parser.error("1..100000 games, 0..12 players (a game rule)")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partyhub.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from lobby import services
    from realtime import snapshot

    t0 = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    games = []
    with transaction.atomic():
        for _ in range(args.games):
            session, host_token = services.create_session(services.parse_settings({}))
            players = []
            for p in range(args.players):
                player, token = services.join(session, f"P{p}")
                players.append((player.id, player.token_digest, token))
            games.append((session, host_token, players))
    out = []
    for i, (session, host_token, players) in enumerate(games):
        tokens = {
            "host": session.host_token_digest,
            "players": {digest: player_id for player_id, digest, _ in players},
        }
        snapshot.store_tokens(session.code, session.seq, tokens)
        ok = snapshot.store_state(session.code, session.seq, services.session_state(session))
        if not ok:
            print(f"Redis write failed for {session.code}", file=sys.stderr)
            return 1
        out.append(
            {
                "code": session.code,
                "host_token": host_token,
                "player_tokens": [token for _, _, token in players],
            }
        )
        if (i + 1) % 500 == 0:
            print(f"  setup: {i + 1}/{args.games} games in Redis", file=sys.stderr, flush=True)
    # Every key a socket needs is written above, as the relay's rebuild
    # would: the servers may admit sockets (they answer 1013 until then).
    for client in snapshot.all_clients():
        snapshot.mark_ready(client)
    args.out.write_text(json.dumps(out))
    print(
        f"  setup: {args.games} games x {args.players} players in {time.monotonic() - t0:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
