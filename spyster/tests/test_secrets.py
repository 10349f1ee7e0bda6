"""Nothing public gives the spy, the location or a role away before the
round is over: every public event and `session.state` is the same whoever
the spy is and wherever the round takes place, and neither they nor
Redis' public keys, nor anyone else's GET, hold a role or a card."""

from __future__ import annotations

import json
from unittest import mock

from django.test import TestCase

from realtime import snapshot
from spyster import actions
from spyster.models import Location
from tests.helpers import Recorder

from .support import NAMES, SpysterApi, roles_of, run_deadline

# What identifies a session or a moment rather than the game: left out of
# the comparison of two sessions.
VOLATILE = {"code", "deadline", "clock_ms", "server_time", "id"}


class Rigged:
    """actions._random for one test: this location, this spy, the first
    player asks first, roles unshuffled."""

    def __init__(self, spy_index: int, location: str) -> None:
        self.spy_index, self.location = spy_index, location
        self.players_drawn = 0

    def choice(self, items):
        items = list(items)
        if isinstance(items[0], Location):
            return next(x for x in items if x.name == self.location)
        self.players_drawn += 1
        return items[self.spy_index] if self.players_drawn == 1 else items[0]

    def shuffle(self, items):
        pass


class SecretsTests(TestCase):
    def setUp(self):
        self.api = SpysterApi()

    def play_until_the_last_vote(self, spy_index: int, location: str):
        """A round up to the final vote's last missing vote: an accusation
        that fails, the clock running out, three of four suspects named.
        Returns (session code, host token, tokens by join index, recorder);
        self.ids: the player ids by join index."""
        code, host = self.api.create_spyster(rounds=2)
        joined = [self.api.join(code, name) for name in NAMES]
        ids = [pid for pid, _ in joined]
        tokens = [token for _, token in joined]
        with Recorder() as seen, mock.patch.object(actions, "_random", Rigged(spy_index, location)):
            self.assertEqual(self.api.host(code, "start-round", host)[0], 200)
            self.assertEqual(self.api.accuse(code, tokens[0], ids[2])[0], 200)
            self.assertEqual(self.api.vote(code, tokens[1], True)[0], 201)
            self.assertEqual(self.api.vote(code, tokens[3], False)[0], 201)
            self.assertEqual(self.api.accuse(code, tokens[1], ids[0])[0], 200)
            self.assertTrue(run_deadline(code))  # the vote times out
            self.assertTrue(run_deadline(code))  # the round's clock runs out
            for voter, named in ((0, 1), (1, 2), (2, 0)):
                self.assertEqual(self.api.suspect(code, tokens[voter], ids[named])[0], 201)
        self.ids = ids
        return code, host, tokens, seen

    def normalized(self, value, ids):
        """`value` with player ids replaced by join index and volatile fields dropped."""
        index = {pid: f"player{i}" for i, pid in enumerate(ids)}
        if isinstance(value, dict):
            return {
                k: self.normalized(index.get(v, v) if k.endswith("_id") else v, ids)
                for k, v in value.items()
                if k not in VOLATILE
            }
        if isinstance(value, list):
            return [
                self.normalized(index.get(v, v) if isinstance(v, int) else v, ids) for v in value
            ]
        return value

    def test_public_events_and_states_do_not_depend_on_the_secrets(self):
        code_a, host_a, _, seen_a = self.play_until_the_last_vote(1, "Zoo")
        ids_a = self.ids
        code_b, host_b, _, seen_b = self.play_until_the_last_vote(3, "Bakery")
        ids_b = self.ids
        self.assertGreater(len(seen_a.public), 6)
        public_a = [self.normalized(list(e), ids_a) for e in seen_a.public]
        public_b = [self.normalized(list(e), ids_b) for e in seen_b.public]
        self.assertEqual(public_a, public_b)
        # The GETs, anonymous and the host's, are the same too.
        for token_a, token_b in ((None, None), (host_a, host_b)):
            state_a = self.normalized(self.api.state(code_a, token_a)[1], ids_a)
            state_b = self.normalized(self.api.state(code_b, token_b)[1], ids_b)
            self.assertEqual(state_a, state_b)
        # ... while the cards differ.
        self.assertNotEqual(seen_a.private, seen_b.private)

    def test_no_role_and_no_card_in_anything_public_or_anyone_elses(self):
        code, host, tokens, seen = self.play_until_the_last_vote(2, "Courtroom")
        roles = set(Location.objects.get(name="Courtroom").roles)
        spy = self.ids[2]
        self.assertLessEqual(set(roles_of(code).values()), roles)

        def assert_clean(text: str, where: str) -> None:
            for role in roles:
                self.assertNotIn(json.dumps(role), text, where)
            for marker in ('"spy"', '"spy_id"', '"role"', '"roles"', '"location"'):
                self.assertNotIn(marker, text, where)

        for event_type, payload, state in seen.public:
            assert_clean(json.dumps([payload, state]), event_type)
        # Redis: the public state and every other key but the players' own.
        client = snapshot.client_for(code)
        for key in client.keys(f"*{code}*"):
            key = key.decode()
            if key.startswith("partyhub:private:"):
                continue
            kind = client.type(key).decode()
            if kind == "string":
                assert_clean(client.get(key).decode(errors="replace"), key)
        # GET: anonymous and the host see no `you`; a player sees only their own card.
        for token in (None, host):
            body = self.api.state(code, token)[1]
            self.assertNotIn("you", body)
            self.assertEqual(body.pop("role", "host"), "host")  # the platform's: who asks
            assert_clean(json.dumps(body), f"GET as {token and 'host'}")
        for i, token in enumerate(tokens):
            you = self.api.state(code, token)[1]["you"]
            self.assertEqual(you["spy"], self.ids[i] == spy)
            self.assertEqual(you["player_id"], self.ids[i])
        # The private messages went each to its own player, one card each.
        cards = {}
        for player_id, event_type, payload, private in seen.private:
            if event_type == "spyster.role":
                cards[player_id] = payload
            if private is not None:
                self.assertEqual(private["spy"], player_id == spy)
        self.assertEqual(set(cards), set(self.ids))
        self.assertEqual([pid for pid, c in cards.items() if c["spy"]], [spy])
        self.assertEqual({c["location"] for pid, c in cards.items() if pid != spy}, {"Courtroom"})
