// `/host/<code>/` of Hunch: the platform's big screen with one phase of its
// own (everyone guessing) and the round's result above the scoreboard.
import { $, Countdown, fill, fmt, gettext, h, points, runCountdown } from "../lobby/common.js";
import { hostPage } from "../lobby/hostpage.js";
import { hunchReducer } from "./events.js";

const countdown = new Countdown($("countdown"));

hostPage({
  reducers: [hunchReducer],
  titles: { guessing: gettext("Guess the total!") },
  // Who has guessed this round, and the points of the last one on the scoreboard.
  playerMark: (state, player) => ({
    done: state.phase === "guessing" && (state.guessed || []).includes(player.player_id),
  }),
  roundDeltas: (state) =>
    new Map(((state.last_round && state.last_round.players) || []).map((p) => [p.player_id, p.points])),
  render(page) {
    const state = page.client.state;
    runCountdown(countdown, state, page.client, { show: (s) => s.phase === "guessing" });
    if (state.phase === "guessing") {
      $("guess-progress").textContent = fmt(gettext("%(done)s of %(all)s guesses in"), {
        done: (state.guessed || []).length,
        all: state.players.length,
      });
    }
    const result = state.last_round;
    if (state.phase === "scoreboard" && result) {
      $("round-total").textContent = String(result.total);
      fill(
        $("round-guesses"),
        result.players.map((p) =>
          h(
            "li",
            { className: p.points ? "player done" : "player" },
            h("span", { className: "player-name" }, `${p.name} (${p.secret})`),
            h(
              "span",
              { className: "player-score" },
              p.guess === null ? gettext("no guess") : fmt(gettext("guessed %(guess)s"), p),
            ),
            p.points ? h("span", { className: "delta-chip" }, points(p.points)) : null,
          ),
        ),
      );
    }
  },
});
