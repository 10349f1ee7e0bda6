"""The platform, against every registered game: sessions, settings tables,
player limits, lobby, rounds, pause/resume, leave, exit, and the transport's
refusal of what a game did not declare.

Each case runs once per game in lobby.registry (as subtests), so a new game
is checked by adding it to INSTALLED_APPS; nothing here knows a game's rules.
"""

from __future__ import annotations

from django.test import SimpleTestCase, TestCase

from lobby import actions, phases, registry
from lobby.driver import GameDriver
from lobby.models import FINISHED, LOBBY, SCOREBOARD, GameSession, Player
from realtime import protocol
from realtime.broadcast import sync_broadcast_phase_event, sync_broadcast_private_event
from realtime.sidecar import sidecar_kwargs

from .helpers import Api

PLATFORM_FIELDS = (
    "code",
    "game",
    "phase",
    "round",
    "rounds",
    "settings",
    "deadline",
    "paused",
    "remaining_ms",
    "players",
    "ranking",
)


def defaults(driver: GameDriver) -> dict:
    """A create call's settings when it sends none: the table's and the options' defaults."""
    table = {s.name: s.default for s in driver.settings}
    return table | {o.name: o.default for o in driver.options}


class EveryGameTests(TestCase):
    def setUp(self):
        self.api = Api()

    def games(self) -> list[GameDriver]:
        self.assertGreaterEqual(len(registry.games()), 2)  # the quiz and the example at least
        return registry.games()

    def create(self, driver: GameDriver, **settings) -> tuple[str, str]:
        status, body = self.api.call("POST", "/api/sessions/", {"game": driver.name, **settings})
        self.assertEqual(status, 201, body)
        return body["code"], body["host_token"]

    def test_create_takes_the_tables_defaults_and_the_state_has_the_platform_fields(self):
        for driver in self.games():
            with self.subTest(game=driver.name):
                status, body = self.api.call("POST", "/api/sessions/", {"game": driver.name})
                self.assertEqual(
                    (status, body["game"], body["settings"]), (201, driver.name, defaults(driver))
                )
                state = self.api.state(body["code"])[1]
                for name in PLATFORM_FIELDS:
                    self.assertIn(name, state)
                self.assertEqual(
                    (state["game"], state["phase"], state["round"], state["rounds"]),
                    (driver.name, LOBBY, 0, defaults(driver)["rounds"]),
                )

    def test_settings_outside_the_table_are_refused(self):
        for driver in self.games():
            with self.subTest(game=driver.name):
                for setting in driver.settings:
                    if setting.kind == "bool":
                        bad = [1, "yes", None]
                    else:
                        bad = [setting.minimum - 1, setting.maximum + 1, "3", True, 1.5]
                    for value in bad:
                        status, body = self.api.call(
                            "POST", "/api/sessions/", {"game": driver.name, setting.name: value}
                        )
                        self.assertEqual(status, 400, (setting.name, value, body))
                        self.assertIn(setting.name, body["error"]["message"])
                status, body = self.api.call(
                    "POST", "/api/sessions/", {"game": driver.name, "x": 1}
                )
                self.assertEqual((status, body["error"]["code"]), (400, "INVALID_FIELD"))

    def test_the_game_defaults_to_the_quiz_and_unknown_games_are_refused(self):
        status, body = self.api.call("POST", "/api/sessions/", {})
        self.assertEqual((status, body["game"]), (201, "weirsoe"))
        for game in ("chess", "", 7, None):
            status, body = self.api.call("POST", "/api/sessions/", {"game": game})
            self.assertEqual((status, body["error"]["code"]), (400, "UNKNOWN_GAME"), game)
        status, listing = self.api.call("GET", "/api/games/")
        self.assertEqual(status, 200)
        self.assertEqual([g["game"] for g in listing["games"]], [d.name for d in registry.games()])
        for entry in listing["games"]:
            driver = registry.game(entry["game"])
            self.assertEqual(
                (
                    entry["min_players"],
                    entry["max_players"],
                    [s["name"] for s in entry["settings"]],
                ),
                (driver.min_players, driver.max_players, [s.name for s in driver.settings]),
            )

    def test_players_join_up_to_the_games_maximum(self):
        for driver in self.games():
            with self.subTest(game=driver.name):
                code, _ = self.create(driver)
                for i in range(driver.max_players):
                    self.api.join(code, f"P{i}")
                status, body = self.api.call(
                    "POST", f"/api/sessions/{code}/join/", {"name": "Late"}
                )
                self.assertEqual((status, body["error"]["code"]), (409, "SESSION_FULL"))

    def test_a_round_needs_the_games_minimum_and_then_starts_in_one_of_its_phases(self):
        for driver in self.games():
            with self.subTest(game=driver.name):
                code, host = self.create(driver)
                for i in range(driver.min_players - 1):
                    self.api.join(code, f"P{i}")
                status, body = self.api.host(code, "start-round", host)
                self.assertEqual((status, body["error"]["code"]), (409, "NOT_ENOUGH_PLAYERS"))
                self.api.join(code, "Last")
                status, body = self.api.host(code, "start-round", host)
                self.assertEqual(status, 200, body)
                state = self.api.state(code)[1]
                self.assertIn(state["phase"], [p.name for p in driver.phases])
                self.assertEqual(state["round"], 1)
                # finish is only for the scoreboard; start-round only between rounds.
                for action in ("finish", "start-round"):
                    status, body = self.api.host(code, action, host)
                    self.assertEqual((status, body["error"]["code"]), (409, "WRONG_PHASE"), action)

    def test_pause_and_resume_where_the_phase_table_allows_and_nothing_else_meanwhile(self):
        for driver in self.games():
            with self.subTest(game=driver.name):
                code, host = self.create(driver)
                players = [self.api.join(code, f"P{i}")[1] for i in range(driver.min_players)]
                status, body = self.api.host(code, "pause", host)
                self.assertEqual((status, body["error"]["code"]), (409, "WRONG_PHASE"))  # lobby
                self.api.host(code, "start-round", host)
                phase = self.api.state(code)[1]["phase"]
                if not phases.spec(driver, phase).pausable:
                    continue
                status, body = self.api.host(code, "pause", host)
                self.assertEqual((status, body["paused"]), (200, True))
                for action in ("start-round", "finish", "pause"):
                    self.assertEqual(self.api.host(code, action, host)[0], 409, action)
                self.assertEqual(self.api.host(code, "resume", host)[0], 200)
                self.assertEqual(self.api.state(code, players[0])[1]["paused"], False)

    def test_leaving_the_lobby_frees_the_name_and_ends_the_token(self):
        for driver in self.games():
            with self.subTest(game=driver.name):
                code, _ = self.create(driver)
                ana_id, ana = self.api.join(code, "Ana")
                status, body = self.api.call("POST", f"/api/sessions/{code}/leave/", {}, ana)
                self.assertEqual((status, body["left"], body["player_id"]), (200, True, ana_id))
                self.assertEqual(self.api.state(code, ana)[0], 401)
                self.assertEqual(self.api.state(code)[1]["players"], [])
                self.api.join(code, "Ana")  # the name is free again

    def test_leaving_mid_game_below_the_minimum_ends_the_game(self):
        for driver in self.games():
            with self.subTest(game=driver.name):
                code, host = self.create(driver)
                tokens = [self.api.join(code, f"P{i}")[1] for i in range(driver.min_players)]
                self.api.host(code, "start-round", host)
                status, body = self.api.call("POST", f"/api/sessions/{code}/leave/", {}, tokens[0])
                self.assertEqual((status, body["phase"]), (200, FINISHED), body)
                state = self.api.state(code)[1]
                self.assertEqual(len(state["players"]), driver.min_players - 1)
                self.assertEqual(
                    [a["award"] for a in state["awards"]], [a.id for a in driver.awards]
                )
                self.assertEqual(
                    self.api.call("GET", f"/api/sessions/{code}/", token=tokens[0])[0], 401
                )
                self.assertTrue(
                    Player.objects.filter(session__code=code, left_at__isnull=False).exists()
                )

    def test_exit_closes_the_session_for_every_game(self):
        for driver in self.games():
            with self.subTest(game=driver.name):
                code, host = self.create(driver)
                self.assertEqual(self.api.host(code, "exit", host)[0], 200)
                self.assertEqual(self.api.state(code)[0], 410)

    def test_actions_of_another_game_are_not_found(self):
        mine, other = registry.games()[:2]
        foreign = next(
            a.name for a in other.actions if a.name not in {x.name for x in mine.actions}
        )
        code, host = self.create(mine)
        status, body = self.api.call("POST", f"/api/sessions/{code}/{foreign}/", {}, host)
        self.assertEqual((status, body["error"]["code"]), (404, "NOT_FOUND"))
        status, body = self.api.call("POST", f"/api/sessions/{code}/no-such-action/", {}, host)
        self.assertEqual((status, body["error"]["code"]), (404, "NOT_FOUND"))


class ScoreboardTests(TestCase):
    """The platform's scoreboard and game over, driven through the phase table."""

    def test_after_the_last_round_only_finish_is_left(self):
        api = Api()
        for driver in registry.games():
            with self.subTest(game=driver.name):
                code, host = api.create(game=driver.name, rounds=1)
                for i in range(driver.min_players):
                    api.join(code, f"P{i}")
                api.host(code, "start-round", host)
                session = GameSession.objects.get(code=code)
                session.phase = SCOREBOARD  # as the game would at the end of its round
                session.save()
                status, body = api.host(code, "start-round", host)
                self.assertEqual((status, body["error"]["code"]), (409, "NO_MORE_ROUNDS"))
                status, body = api.host(code, "finish", host)
                self.assertEqual((status, body["phase"]), (200, FINISHED))
                self.assertEqual(body["event"], "phase.game_over")


class DeclarationTests(SimpleTestCase):
    """The transport sends only what a registered game declared."""

    def test_undeclared_events_are_refused_naming_the_game_and_the_type(self):
        with self.assertRaisesRegex(ValueError, "game 'hunch' does not declare event type 'x.y'"):
            sync_broadcast_phase_event("DECL", "x.y", {}, game="hunch")
        with self.assertRaisesRegex(ValueError, "'phase.lie_started'.*game 'weirsoe' does"):
            sync_broadcast_phase_event("DECL", "phase.lie_started", {}, game="hunch")
        with self.assertRaisesRegex(ValueError, "no registered game declares it"):
            sync_broadcast_phase_event("DECL", "x.y", {})
        # Private ones stay private, and public ones public.
        with self.assertRaisesRegex(ValueError, "private"):
            sync_broadcast_phase_event("DECL", "hunch.secret", {"round": 1, "secret": 2})
        with self.assertRaisesRegex(ValueError, "public"):
            sync_broadcast_private_event("DECL", 1, "hunch.guessed", {}, game="hunch")

    def test_client_types_come_from_the_games(self):
        types = sidecar_kwargs()["client_types"].split(",")
        self.assertIn("reaction", types)
        for driver in registry.games():
            for action in driver.actions:
                if action.message:
                    self.assertIn(action.message, types)
        self.assertEqual(types, [t for t in protocol.client_types() if t != protocol.PING])

    def test_every_games_tables_hang_together(self):
        for driver in registry.games():
            registry.check_driver(driver)
            table = phases.table(driver)
            self.assertEqual(list(table)[0], LOBBY)
            self.assertEqual(list(table)[-2:], [SCOREBOARD, FINISHED])
            for action in driver.actions:
                self.assertIs(actions.action_of(driver, action.name), action)

    def test_a_broken_driver_is_refused_at_registration(self):
        class Broken(GameDriver):
            name = "broken"
            title = "Broken"
            pitch = "Has no rounds."

        with self.assertRaisesRegex(ValueError, "rounds"):
            registry.register(Broken())
        self.assertNotIn("broken", [d.name for d in registry.games()])
