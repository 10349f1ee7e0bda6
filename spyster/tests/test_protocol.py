"""The shared WebSocket protocol suite (tests/test_protocol.py), run for a
Spyster session against both servers; its one game-specific row, the phase
events in order, walks a Spyster round instead of a quiz round."""

from __future__ import annotations

import json

from django.test import TransactionTestCase

from lobby import events as lobby_events
from realtime import protocol
from spyster import events
from tests import servers
from tests.test_protocol import ProtocolCases

from .support import SpysterApi, run_deadline, spy_of


class SpysterProtocolCases(ProtocolCases):
    """ProtocolCases with a Spyster session of Ana and Bo."""

    def setUp(self):
        self.api = SpysterApi()
        self.code, self.host = self.api.create_spyster()
        self.ana_id, self.ana = self.api.join(self.code, "Ana")
        self.bo_id, self.bo = self.api.join(self.code, "Bo")

    async def test_phase_events_in_order_with_seq(self):
        cy_id, cy = await self.call(self.api.join, self.code, "Cy")
        ana, _, state = await self.join(f"session_token={self.ana}")
        host, _, _ = await self.join(f"role=host&session_token={self.host}")
        first = state["seq"]
        api, code = self.api, self.code
        await self.call(api.host, code, "start-round", self.host)
        spy = await self.call(spy_of, code)
        tokens = {self.ana_id: self.ana, self.bo_id: self.bo, cy_id: cy}
        # Ana accuses Bo; Cy says no; the clock runs out; everyone names the spy.
        await self.call(api.accuse, code, self.ana, self.bo_id)
        await self.call(api.vote, code, cy, False)
        await self.call(run_deadline, code)
        for voter, token in tokens.items():
            named = spy if voter != spy else next(p for p in tokens if p != spy)
            await self.call(api.suspect, code, token, named)
        await self.call(api.host, code, "finish", self.host)
        expected = [
            events.ROUND_STARTED,
            events.VOTE_STARTED,
            events.VOTED,
            events.VOTE_RESULT,
            events.FINAL_VOTE_STARTED,
            events.VOTED,
            events.VOTED,
            events.VOTED,
            events.ROUND_OVER,
            lobby_events.SCOREBOARD,
            lobby_events.GAME_OVER,
        ]
        texts = {}
        for ws in (ana, host):
            public, private = [], []
            while len(public) < len(expected):
                message = await servers.recv_json(ws)
                (public if "seq" in message else private).append(message)
            self.assertEqual([e["type"] for e in public], expected)
            self.assertEqual(
                [e["seq"] for e in public], list(range(first + 1, first + 1 + len(expected)))
            )
            for event in public:
                protocol.check_event(event["type"], event["payload"])
            # Nothing public says who the spy is before round_over.
            before = json.dumps(public[: expected.index(events.ROUND_OVER)])
            for key in ('"spy":', '"spy_id":', '"role":', '"location":'):
                self.assertNotIn(key, before)
            texts[ws] = [json.dumps(e) for e in public]
            if ws is host:
                self.assertEqual(private, [])
            else:  # Ana's card, then her own state after each of her actions
                self.assertEqual(private[0]["type"], events.ROLE)
                self.assertEqual(private[0]["payload"]["spy"], spy == self.ana_id)
                pseqs = [m["pseq"] for m in private]
                self.assertEqual(pseqs, sorted(set(pseqs)))
        self.assertEqual(texts[ana], texts[host])
        over = json.loads(texts[host][expected.index(events.ROUND_OVER)])["payload"]
        self.assertEqual((over["spy_id"], over["how"]), (spy, "voted_out"))
        late, _, state = await self.join(f"session_token={self.bo}")
        self.assertEqual(
            (state["seq"], state["payload"]["phase"]), (first + len(expected), "finished")
        )
        for ws in (ana, host, late):
            await ws.close()

    async def test_player_welcome_then_state(self):
        await super().test_player_welcome_then_state()
        ws, _, state = await self.join(f"session_token={self.ana}")
        self.assertEqual(state["payload"]["game"], "spyster")
        self.assertIn("locations", state["payload"])
        await ws.close()


class DaphneSpysterProtocolTests(SpysterProtocolCases, TransactionTestCase):
    server_class = servers.Daphne


class SidecarSpysterProtocolTests(SpysterProtocolCases, TransactionTestCase):
    server_class = staticmethod(servers.Sidecar)
