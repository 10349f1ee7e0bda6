"""The pages in Chromium against a real server process (Playwright, sync API).

Screenshots of each phase land in test-artifacts/browser/ (not committed).
The full game runs against every server in the list at the bottom: add the
C sidecar there once it exists.
"""

from __future__ import annotations

import re
import unittest

from lobby.reactions import REACTION_EMOJI

from .browser_support import (
    BIG_SCREEN,
    PHONE,
    BrowserTestCase,
    daphne_server,
    sidecar_server,
    sidecar_unavailable,
)
from .helpers import Api, truth_of

try:
    from playwright.sync_api import expect
except ImportError:  # the browser tests skip themselves, saying why
    expect = None

NAMES = ("Ana", "Bo", "Cy")


class FullGame:
    """Host + 3 players in separate browser contexts, two rounds, every phase."""

    def create_game_as_host(self):
        host = self.new_page("host", BIG_SCREEN)
        host.goto(self.url("/"))
        expect(host.locator("h1")).to_have_text("Weirsøe Party Protocol")
        self.assert_fits(host, "home at 1920")
        self.shot(host, "home")
        host.fill("#rounds", "2")
        expect(host.locator("#auto_advance")).to_be_checked()
        host.uncheck("#auto_advance")  # this test presses every step itself
        host.click("#create-button")
        host.wait_for_url(re.compile(r"/host/[A-Z]{4}/$"))
        code = host.url.rstrip("/").rsplit("/", 1)[1]
        self.assertFalse(game_settings(host, code)["auto_advance"])
        expect(self.status(host)).to_have_attribute("data-status", "connected")
        expect(self.status(host)).to_contain_text("Connected")
        expect(host.locator("#game-code")).to_have_text(code)
        self.assertEqual(host.evaluate("() => partyhub.wsUrl"), self.server.ws_url)
        expect(host.locator("#join-url")).to_have_text(self.url(f"/play/{code}/"))
        expect(host.locator("#phase-title")).to_have_text("Waiting for players")
        expect(host.locator("#btn-start-round")).to_be_disabled()
        return host, code

    def join(self, code: str, name: str, via_home: bool):
        page = self.new_page(name, PHONE)
        if via_home:
            page.goto(self.url("/"))
            self.assert_fits(page, "home at 360")
            self.shot(page, "home-360")
            page.fill("#join-code", code.lower())
            page.fill("#join-name", name)
            page.click("#join-button")
            page.wait_for_url(re.compile(rf"/play/{code}/$"))
        else:
            page.goto(self.url(f"/play/{code}/"))
            page.fill("#name", name)
            page.click("#join-button")
        expect(self.status(page)).to_have_attribute("data-status", "connected")
        expect(page.locator("#me-name")).to_have_text(name)
        expect(page.locator("#lobby-players li", has_text=name)).to_be_visible()
        return page

    def expect_buttons(self, host, *enabled: str) -> None:
        for action in (
            "start-round",
            "show-question",
            "mix-answers",
            "calculate-scores",
            "reveal-scoreboard",
            "finish",
        ):
            button = host.locator(f"#btn-{action}")
            if action in enabled:
                expect(button).to_be_enabled()
            else:
                expect(button).to_be_disabled()

    def shoot_all(self, host, players, phase: str) -> None:
        self.shot(host, f"host-{phase}")
        self.shot(players["Ana"], f"ana-{phase}")
        self.assert_fits(host, f"host in {phase}")
        for name, page in players.items():
            self.assert_fits(page, f"{name} in {phase}")

    def play_round(self, host, code, players, number, lies, guesses, expected_scores):
        """lies: name -> text; guesses: name -> name of the liar picked, or 'TRUTH'."""
        host.click("#btn-start-round")
        expect(host.locator("#round-label")).to_have_text(f"Round {number} of 2")
        truth = self.django(truth_of, code, number)
        expect(host.locator("#phase-title")).to_have_text("Write your lies!")
        expect(host.locator("#countdown")).to_have_text(re.compile(r"^[01]:\d\d$"))
        self.expect_buttons(host, "show-question")
        for page in players.values():
            expect(page.locator("#phase-title")).to_have_text("Write a lie")
            expect(page.locator("#lie-prompt")).not_to_be_empty()
            expect(page.locator("#countdown")).to_be_visible()
        prompt = players["Ana"].locator("#lie-prompt").text_content()
        self.shoot_all(host, players, f"r{number}-lie")
        for name, text in lies.items():
            page = players[name]
            page.fill("#lie", text)
            page.click("#lie-button")
            expect(page.locator("#lie-status")).to_contain_text(text)
        if number == 1:  # the big screen polls for these: check them once
            expect(host.locator("#lie-progress")).to_have_text("3 of 3 lies in")
            expect(host.locator("#players li.done")).to_have_count(3)

        host.click("#btn-show-question")
        expect(host.locator("#question-prompt")).to_have_text(prompt)
        self.expect_buttons(host, "mix-answers")
        self.shoot_all(host, players, f"r{number}-question")

        host.click("#btn-mix-answers")
        expect(host.locator("#phase-title")).to_have_text("Find the truth")
        expect(host.locator("#guess-answers li")).to_have_count(4)
        host_answers = host.locator("#guess-answers li").all_text_contents()
        self.assertEqual(sorted(host_answers), sorted([truth, *lies.values()]))
        self.expect_buttons(host, "calculate-scores")
        for name, page in players.items():
            choices = page.locator("#guess-choices button")
            expect(choices).to_have_count(3)  # the truth and the two others' lies
            offered = choices.all_text_contents()
            self.assertNotIn(lies[name], offered, f"{name} is offered their own lie")
            self.assertIn(truth, offered)
        self.shoot_all(host, players, f"r{number}-guess")
        for name, target in guesses.items():
            page = players[name]
            text = truth if target == "TRUTH" else lies[target]
            # Exact: a lie may contain the round's (random) truth, e.g. "the
            # Eiffel tower" when the answer is "Eiffel".
            page.locator("#guess-choices").get_by_role("button", name=text, exact=True).click()
            expect(page.locator("#guess-status")).to_have_text(
                f"You picked “{text}”. Waiting for the others…"
            )
            expect(page.locator("#guess-choices button:enabled")).to_have_count(0)
        if number == 1:
            expect(host.locator("#guess-progress")).to_have_text("3 of 3 guesses in")
        self.shot(players["Ana"], f"ana-r{number}-guessed")

        # Note the order in which the big screen reveals the answers, and when:
        # a MutationObserver sees every render (each step's own timer).
        host.evaluate(
            """() => {
              window.revealOrder = [];
              window.revealLog = [];
              if (window.revealWatch) window.revealWatch.disconnect();
              window.revealWatch = new MutationObserver(() => {
                if (document.querySelector('[data-phase=scores]').hidden) return;
                const shown = [...document.querySelectorAll('#scores-answers li.revealed')];
                const last = window.revealLog.at(-1);
                const count = shown.length;
                if (!last || last[0] !== count) window.revealLog.push([count, Date.now()]);
                for (const li of shown) {
                  const text = li.querySelector('.result-text').textContent;
                  if (!window.revealOrder.some((r) => r.text === text)) {
                    const truthLine = document.getElementById('scores-truth').textContent;
                    const truth = li.classList.contains('truth');
                    window.revealOrder.push({text, truth, truthLine});
                  }
                }
              });
              window.revealWatch.observe(document.body,
                {subtree: true, childList: true, attributes: true, characterData: true});
            }"""
        )
        host.click("#btn-calculate-scores")
        expect(host.locator("#phase-title")).to_have_text("Results")
        if number == 1:
            for step in (1, 2):
                host.wait_for_function(
                    f"document.querySelectorAll('#scores-answers li.revealed').length >= {step}"
                )
                self.shot(host, f"r1-reveal-step-{step}")
        expect(host.locator("#scores-truth")).to_have_text(truth)
        expect(host.locator("#scores-answers li.truth")).to_contain_text(truth)
        expect(host.locator("#scores-answers li.pending")).to_have_count(0)
        expect(host.locator("#scores-summary")).not_to_have_class(re.compile("concealed"))
        order = host.evaluate("() => (window.revealWatch.disconnect(), window.revealOrder)")
        log = host.evaluate("() => window.revealLog")
        due = host.evaluate(
            "() => partyhub.state.reveal.steps"
            ".filter((s) => s.round === partyhub.state.results.round)"
            ".map((s) => partyhub.localTime(s.reveal_at)).sort((a, b) => a - b)"
        )
        # One at a time: lies first, fewest fooled first, the truth last.
        self.assertEqual([item["text"] for item in order][-1], truth)
        self.assertEqual(sorted(item["text"] for item in order), sorted([truth, *lies.values()]))
        self.assertEqual([item["truth"] for item in order], [False, False, False, True])
        self.assertTrue(all(item["truthLine"] == "…" for item in order[:-1]), order)
        # Each answer shows at its step's time (every screen in step), never
        # before it: a page that got the events late (a loaded machine) shows
        # the steps already due at once, then the rest one at a time.
        counts = [count for count, _ in log if count]
        self.assertEqual(counts, sorted(set(counts)), log)
        self.assertEqual(counts[-1], 4, log)
        for count, at in log:
            self.assertLessEqual(count, sum(1 for t in due if t <= at + 5), (log, due))
        liar = {text: name for name, text in lies.items()}
        targets = list(guesses.values())
        fooled_counts = [targets.count(liar[item["text"]]) for item in order[:-1]]
        self.assertEqual(fooled_counts, sorted(fooled_counts))
        if number == 1:
            # A page (re)loaded mid-reveal has only session.state.reveal: the same steps.
            mid = host.evaluate(
                """async () => {
                  const {revealProgress} = await import('/static/weirsoe/quiz.js');
                  const now = Date.now() + partyhub.clockOffset;
                  const step = (index, at, points) => ({round: 1, index, reveal_at: at, points,
                    answer: {id: index, text: 't' + index, is_truth: index === 2}});
                  const state = {phase: 'scores', results: {round: 1, reveal_at: now + 9000,
                      deltas: [{player_id: 1, delta: 1500, score: 1500}]},
                    reveal: {reveal_at: now + 9000, steps: [
                      step(0, now - 2000, [{player_id: 1, points: 500, score: 500}]),
                      step(1, now + 3000, []),
                      step(2, now + 6000, [{player_id: 1, points: 1000, score: 1500}])]}};
                  const r = revealProgress(state, partyhub);
                  return [r.reached.length, r.done, r.truthShown, r.scoreOf(1, 1500),
                          r.gainedOf(1)];
                }"""
            )
            self.assertEqual(mid, [1, False, False, 500, 500])
        fooled = {}
        for name, target in guesses.items():
            if target != "TRUTH":
                fooled.setdefault(target, []).append(name)
        for liar, victims in fooled.items():
            expect(host.locator("#scores-fooled li", has_text=f"{liar} fooled")).to_contain_text(
                " and ".join(victims)
            )
        self.expect_buttons(host, "reveal-scoreboard")
        for name, page in players.items():
            expect(page.locator("#result-truth")).to_have_text(truth)
            line = (
                "You found the truth!"
                if guesses[name] == "TRUTH"
                else f"You fell for {guesses[name]}'s lie “{lies[guesses[name]]}”."
            )
            expect(page.locator("#my-results li").first).to_have_text(line)
            expect(page.locator("#my-delta")).to_contain_text(f"{expected_scores[name]:,} in total")
            expect(page.locator("#me-score")).to_have_text(f"{expected_scores[name]:,}")
        self.shoot_all(host, players, f"r{number}-scores")

        host.click("#btn-reveal-scoreboard")
        rows = host.locator("#scoreboard-table tbody tr")
        expect(rows).to_have_count(3)
        ranked = sorted(expected_scores.items(), key=lambda item: -item[1])
        for index, (name, score) in enumerate(ranked):
            expect(rows.nth(index)).to_contain_text(name)
            expect(rows.nth(index)).to_contain_text(f"{score:,}")
        for name, page in players.items():
            rank = 1 + [n for n, _ in ranked].index(name)
            expect(page.locator("#my-rank")).to_have_text(
                f"You are #{rank} with {expected_scores[name]:,} points."
            )
        self.shoot_all(host, players, f"r{number}-scoreboard")

    def test_full_game(self):
        host, code = self.create_game_as_host()
        self.shot(host, "host-lobby-empty")
        players = {}
        for index, name in enumerate(NAMES):
            players[name] = self.join(code, name, via_home=index == 0)
            expect(host.locator("#players li")).to_have_count(index + 1)
            expect(host.locator("#players li").nth(index)).to_contain_text(name)
            if index == 0:
                expect(host.locator("#btn-start-round")).to_be_disabled()  # one player is too few
        self.expect_buttons(host, "start-round")
        expect(host.locator("#btn-start-round")).to_have_text("Start the game")
        self.shoot_all(host, players, "lobby")

        lies1 = {"Ana": "a tin of anchovies", "Bo": "a carrier pigeon", "Cy": "a jar of honey"}
        # Ana finds the truth, Bo falls for Ana's lie, Cy for Bo's (round 1: ×1).
        guesses1 = {"Ana": "TRUTH", "Bo": "Ana", "Cy": "Bo"}
        self.play_round(host, code, players, 1, lies1, guesses1, {"Ana": 1500, "Bo": 500, "Cy": 0})
        self.expect_buttons(host, "start-round", "finish")
        expect(host.locator("#btn-start-round")).to_have_text("Next round")

        lies2 = {"Ana": "the Eiffel tower", "Bo": "a rubber duck", "Cy": "a lighthouse"}
        # Round 2 (×2): Ana falls for Cy's lie, Bo and Cy find the truth.
        guesses2 = {"Ana": "Cy", "Bo": "TRUTH", "Cy": "TRUTH"}
        final = {"Ana": 1500, "Bo": 2500, "Cy": 3000}
        self.play_round(host, code, players, 2, lies2, guesses2, final)
        self.expect_buttons(host, "finish")  # the last round: finishing is the only way on

        host.click("#btn-finish")
        expect(host.locator("#phase-title")).to_have_text("Final ranking")
        expect(host.locator("#winner")).to_have_text("🏆 Cy wins with 3,000 points!")
        rows = host.locator("#final-table tbody tr")
        expect(rows).to_have_count(3)
        for index, name in enumerate(("Cy", "Bo", "Ana")):
            expect(rows.nth(index)).to_contain_text(f"{final[name]:,}")
            expect(rows.nth(index)).to_contain_text(name)
        self.expect_buttons(host)
        expect(players["Cy"].locator("#final-place")).to_have_text("🏆 You won with 3,000 points!")
        expect(players["Bo"].locator("#final-place")).to_have_text(
            "You finished #2 with 2,500 points."
        )
        expect(players["Ana"].locator("#final-place")).to_have_text(
            "You finished #3 with 1,500 points."
        )
        self.shoot_all(host, players, "finished")
        # The big screen on a phone, too.
        host.set_viewport_size(PHONE["viewport"])
        self.assert_fits(host, "host at 360")
        self.shot(host, "host-finished-at-360")
        for page in (host, *players.values()):
            self.assertEqual(self.metrics(page)["gaps"], 0)
        self.assert_no_page_errors()


class FullGameDaphneTests(FullGame, BrowserTestCase):
    server_factory = staticmethod(daphne_server)


@unittest.skipIf(sidecar_unavailable(), str(sidecar_unavailable()))
class FullGameSidecarTests(FullGame, BrowserTestCase):
    server_factory = staticmethod(sidecar_server)


class GamePages:
    """A game created over REST for each test; the host's page and players' pages."""

    def setUp(self):
        super().setUp()
        self.api = Api()
        self.code, self.host_token = self.django(self.api.create)

    def open_host(self):
        host = self.new_page("host", BIG_SCREEN)
        host.goto(self.url("/"))  # same origin, then put the host key where /  would
        host.evaluate(
            "([code, token]) => sessionStorage.setItem(`partyhub:host:${code}`,"
            " JSON.stringify({token}))",
            [self.code, self.host_token],
        )
        host.goto(self.url(f"/host/{self.code}/"))
        expect(self.status(host)).to_have_attribute("data-status", "connected")
        return host

    def open_player(self, name):
        page = self.new_page(name, PHONE)
        page.goto(self.url(f"/play/{self.code}/"))
        page.fill("#name", name)
        page.click("#join-button")
        expect(self.status(page)).to_have_attribute("data-status", "connected")
        return page


class Resilience(GamePages):
    """The WebSocket server goes away mid-round and comes back."""

    def test_server_restart_mid_round(self):
        host = self.open_host()
        ana, bo = self.open_player("Ana"), self.open_player("Bo")
        pages = {"host": host, "ana": ana, "bo": bo}
        host.click("#btn-start-round")
        expect(ana.locator("#phase-title")).to_have_text("Write a lie")
        ana.fill("#lie", "a velvet hammer")
        ana.click("#lie-button")
        expect(ana.locator("#lie-status")).to_contain_text("a velvet hammer")
        for page in pages.values():
            page.evaluate("() => { window.__noReload = true; }")
        ana.evaluate(
            "() => { window.__pongs = []; partyhub.on('pong', (m) => window.__pongs.push(m.ts)); }"
        )

        self.server.kill_ws()
        for page in pages.values():
            expect(self.status(page)).to_have_attribute("data-status", "reconnecting")
            expect(self.status(page)).to_contain_text("Reconnecting")
        self.shot(host, "host-reconnecting")
        self.shot(ana, "ana-reconnecting")
        # Sent while disconnected: queued, flushed after the reconnect.
        self.assertFalse(ana.evaluate("() => partyhub.send({type: 'ping', ts: 'queued'})"))
        self.assertEqual(ana.evaluate("() => partyhub.queue.length"), 1)
        # The game moves on while the pages cannot hear about it.
        status, body = self.django(self.api.host, self.code, "show-question", self.host_token)
        self.assertEqual(status, 200, body)
        self.server.start_ws()

        for page in pages.values():
            expect(self.status(page)).to_have_attribute("data-status", "connected", timeout=20_000)
        prompt = ana.locator("#lie-prompt").text_content()
        expect(host.locator("#phase-title")).to_have_text("The question")
        expect(host.locator("#question-prompt")).to_have_text(prompt)
        self.expect_show_question_done(host)
        expect(ana.locator("#lie-status")).to_contain_text("a velvet hammer")
        self.assertEqual(ana.evaluate("() => partyhub.queue.length"), 0)
        ana.wait_for_function("() => window.__pongs.includes('queued')")
        for name, page in pages.items():
            self.assertTrue(page.evaluate("() => window.__noReload === true"), f"{name} reloaded")
            self.assertGreaterEqual(self.metrics(page)["reconnects"], 1)
        self.shot(host, "host-reconnected")
        self.shot(ana, "ana-reconnected")

        # A frozen server: the heartbeat's pong never comes, which forces a reconnect.
        bo.evaluate("() => { partyhub.options.pongTimeout = 1500; }")
        self.server.pause_ws()
        try:
            self.assertTrue(bo.evaluate("() => partyhub.ping()"))
            expect(self.status(bo)).to_have_attribute("data-status", "reconnecting")
            self.assertEqual(self.metrics(bo)["pongTimeouts"], 1)
        finally:
            self.server.resume_ws()
        expect(self.status(bo)).to_have_attribute("data-status", "connected", timeout=20_000)
        bo.evaluate("() => partyhub.ping()")
        bo.wait_for_function("() => partyhub.metrics.snapshot().latencySamples >= 1")
        self.assertIsNotNone(self.metrics(bo)["averageLatency"])

        # A gap in seq makes the page fetch the state over REST.
        host.evaluate("() => { partyhub.seq -= 1; }")
        host.click("#btn-mix-answers")
        expect(host.locator("#phase-title")).to_have_text("Find the truth")
        host.wait_for_function("() => partyhub.metrics.snapshot().gaps === 1")

        # Pause and resume reach every screen; ending the game closes them all.
        host.click("#btn-pause")
        expect(host.locator("#phase-title")).to_have_text("Paused")
        expect(bo.locator("#phase-title")).to_have_text("Paused")
        expect(host.locator("#btn-calculate-scores")).to_be_disabled()
        host.click("#btn-pause")  # now labelled Resume
        expect(host.locator("#phase-title")).to_have_text("Find the truth")
        expect(bo.locator("#phase-title")).to_have_text("Pick the truth")
        host.once("dialog", lambda dialog: dialog.accept())
        host.click("#btn-exit")
        expect(ana.locator("#gone-text")).to_have_text("The host has ended this game.")
        expect(self.status(ana)).to_have_attribute("data-status", "offline")
        self.shot(ana, "ana-game-ended")
        self.assert_no_page_errors()

    def expect_show_question_done(self, host):
        expect(host.locator("#btn-mix-answers")).to_be_enabled()
        expect(host.locator("#btn-show-question")).to_be_disabled()


class ResilienceDaphneTests(Resilience, BrowserTestCase):
    server_factory = staticmethod(daphne_server)


@unittest.skipIf(sidecar_unavailable(), str(sidecar_unavailable()))
class ResilienceSidecarTests(Resilience, BrowserTestCase):
    server_factory = staticmethod(sidecar_server)


class PlayerPageTests(BrowserTestCase):
    """A lie that is the truth is refused; a reload rejoins as the same player."""

    def test_truth_refused_and_reload_rejoins(self):
        api = Api()
        code, host_token = self.django(api.create)
        ana = self.new_page("Ana", PHONE)
        ana.goto(self.url(f"/play/{code}/"))
        expect(ana.locator("#phase-title")).to_have_text(f"Join game {code}")
        expect(ana.locator("label[for=name]")).to_have_text("Your name")
        ana.fill("#name", "Ana")
        ana.click("#join-button")
        expect(self.status(ana)).to_have_attribute("data-status", "connected")
        player_id = ana.evaluate("() => partyhub.welcome.player_id")

        bo = self.new_page("Bo", PHONE)
        bo.goto(self.url(f"/play/{code}/"))
        bo.fill("#name", "ana")  # names are unique ignoring case
        bo.click("#join-button")
        expect(bo.locator(".toast")).to_have_text(
            "Someone in this game already has that name. Pick another one."
        )
        bo.fill("#name", "Bo")
        bo.click("#join-button")
        expect(self.status(bo)).to_have_attribute("data-status", "connected")

        self.assertEqual(self.django(api.host, code, "start-round", host_token)[0], 200)
        expect(ana.locator("#phase-title")).to_have_text("Write a lie")
        ana.fill("#lie", self.django(truth_of, code, 1).upper() + "!")
        ana.click("#lie-button")
        toast = ana.locator(".toast")
        expect(toast).to_have_text("That's the true answer! Write a lie instead.")
        self.shot(ana, "truth-refused")
        expect(ana.locator("#lie-status")).to_be_empty()
        expect(toast).to_have_count(0, timeout=8000)  # it goes away by itself

        # A server `error` message is shown the same way.
        sent = ana.evaluate("() => partyhub.send({type: 'no.such.type'})")
        self.assertTrue(sent, f"not sent at once: {ana.evaluate('() => partyhub.status')}")
        expect(ana.locator(".toast")).to_have_text("The server doesn't support that yet.")

        ana.fill("#lie", "a paper moon")
        ana.click("#lie-button")
        expect(ana.locator("#lie-status")).to_contain_text("a paper moon")

        ana.reload()
        expect(self.status(ana)).to_have_attribute("data-status", "connected")
        expect(ana.locator("#join-form")).to_be_hidden()
        expect(ana.locator("#me-name")).to_have_text("Ana")
        expect(ana.locator("#phase-title")).to_have_text("Write a lie")
        expect(ana.locator("#lie-status")).to_contain_text("a paper moon")
        self.assertEqual(ana.evaluate("() => partyhub.welcome.player_id"), player_id)
        self.shot(ana, "after-reload")
        self.assert_no_page_errors()

    def test_reaction_floats_on_host_screen(self):
        api = Api()
        code, host_token = self.django(api.create)
        host = self.new_page("host", BIG_SCREEN)
        host.goto(self.url("/"))
        host.evaluate(
            "([code, token]) => sessionStorage.setItem(`partyhub:host:${code}`,"
            " JSON.stringify({token}))",
            [code, host_token],
        )
        host.goto(self.url(f"/host/{code}/"))
        expect(self.status(host)).to_have_attribute("data-status", "connected")
        ana = self.new_page("Ana", PHONE)
        ana.goto(self.url(f"/play/{code}/"))
        ana.fill("#name", "Ana")
        ana.click("#join-button")
        expect(self.status(ana)).to_have_attribute("data-status", "connected")
        emoji = REACTION_EMOJI[0]
        ana.locator(f"#reaction-bar button[data-emoji='{emoji}']").click()
        floating = host.locator(".floating-reaction")
        expect(floating.first).to_contain_text(emoji)
        expect(floating.first).to_contain_text("Ana")
        self.shot(host, "reaction")
        self.assert_no_page_errors()


class HomeFormTests(BrowserTestCase):
    def test_create_form_turns_timers_on_by_default(self):
        host = self.new_page("host", BIG_SCREEN)
        host.goto(self.url("/"))
        expect(host.locator("#auto_advance")).to_be_checked()
        expect(host.locator("label[for=auto_advance]")).to_have_text("Automatic timers")
        host.click("#create-button")
        host.wait_for_url(re.compile(r"/host/[A-Z]{4}/$"))
        code = host.url.rstrip("/").rsplit("/", 1)[1]
        self.assertIs(game_settings(host, code)["auto_advance"], True)
        self.assert_no_page_errors()


def game_settings(page, code: str) -> dict:
    """settings of GET /api/sessions/<code>/, fetched by the page."""
    return page.evaluate(
        "async (code) => (await (await fetch(`/api/sessions/${code}/`)).json()).settings", code
    )


class ClientModuleTests(BrowserTestCase):
    """partyhub-client.js on its own, imported into a page of the server."""

    def test_backoff_queue_and_handler_isolation(self):
        page = self.new_page("module", PHONE)
        page.goto(self.url("/"))
        result = page.evaluate(
            """async () => {
              const m = await import('/static/realtime/partyhub-client.js');
              const out = {};
              out.delays = [0, 1, 2, 3, 4, 5, 6].map((n) => m.backoffDelay(n, {}, () => 0.5));
              out.low = m.backoffDelay(0, {}, () => 0);
              out.high = m.backoffDelay(5, {}, () => 1);
              const c = new m.PartyhubClient({code: 'abcd', token: 't'});
              const warnings = [];
              const warn = console.warn;
              console.warn = (...args) => warnings.push(args.join(' '));
              for (let i = 0; i < 105; i++) c.send({type: 'x', i});
              console.warn = warn;
              out.queue = [c.queue.length, c.queue[0].i, c.metrics.dropped, warnings.length];
              const seen = [];
              const error = console.error;
              console.error = () => {};
              c.on('thing', () => { throw new Error('boom'); });
              c.on('thing', (msg) => seen.push(msg.n));
              c._emit('thing', {n: 1});
              console.error = error;
              out.seen = seen;
              out.url = m.gameSocketUrl('ABCD', {token: 'a b', role: 'host', wsUrl: 'ws://h:1/'});
              // Events are applied by the game's reducers (here the quiz's).
              const quiz = await import('/static/weirsoe/events.js');
              const s0 = {phase: 'lobby', players: [], rounds: 2, round: 0};
              const s1 = quiz.applyEvent(s0, {type: 'phase.lie_started', seq: 3,
                payload: {round: 1, rounds: 2, prompt: 'P?', category: 'c', time_limit: 60,
                          deadline: 5}});
              out.applied = [s1.phase, s1.question.prompt, s1.time_limit, s1.deadline, s0.phase];
              out.unknown = quiz.applyEvent(s0, {type: 'phase.future', seq: 4, payload: {}}) === s0;
              return out;
            }"""
        )
        self.assertEqual(result["delays"], [1000, 2000, 4000, 8000, 16000, 30000, 30000])
        self.assertEqual(result["low"], 800)  # -20 % jitter
        self.assertEqual(result["high"], 30000)  # capped even with +20 %
        self.assertEqual(result["queue"], [100, 5, 5, 5])  # the oldest 5 dropped, with warnings
        self.assertEqual(result["seen"], [1])  # a failing handler does not stop the next
        self.assertEqual(result["url"], "ws://h:1/ws/game/ABCD/?role=host&session_token=a+b")
        self.assertEqual(result["applied"], ["lie", "P?", 60, 5, "lobby"])
        self.assertTrue(result["unknown"])

        # Nobody listens on port 1: one retry, then "offline" until retry().
        statuses = page.evaluate(
            """async () => {
              const m = await import('/static/realtime/partyhub-client.js');
              const c = new m.PartyhubClient({code: 'ABCD', token: 't', wsUrl: 'ws://127.0.0.1:1',
                                              maxAttempts: 1, baseDelay: 50});
              const seen = [];
              c.on('status', (e) => seen.push(e.status));
              c.connect();
              for (let i = 0; i < 100 && c.status !== 'offline'; i++) {
                await new Promise((r) => setTimeout(r, 50));
              }
              c.retry();
              seen.push(c.metrics.reconnectAttempts);
              c.close();
              return seen;
            }"""
        )
        # "reconnecting" twice: waiting out the delay, then trying (attempt 1).
        self.assertEqual(
            statuses,
            ["connecting", "reconnecting", "reconnecting", "offline", "connecting", 1, "idle"],
        )
        self.assert_no_page_errors()
