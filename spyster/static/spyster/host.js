// `/host/<code>/` of Spyster: the platform's big screen with the round's
// phases: the countdown and the possible locations while everyone asks
// questions, the accusation and who has voted, the final vote; and above
// the scoreboard, who the spy was, where everyone was and how it ended.
// Nothing secret is ever here before the round is over: the host's socket
// and state carry none of it.
import { $, Countdown, fill, fmt, gettext, h, points, runCountdown } from "../lobby/common.js";
import { hostPage } from "../lobby/hostpage.js";
import { spysterReducer } from "./events.js";
import { SPYSTER_COUNTDOWN, clock, howText, nameOf, voteText } from "./spyster.js";

const countdown = new Countdown($("countdown"));

hostPage({
  reducers: [spysterReducer],
  titles: { playing: gettext("Who is the spy?"), vote: gettext("Accusation!"), final_vote: gettext("The final vote") },
  playerMark: (state, player) => ({ done: voted(state).includes(player.player_id) }),
  roundDeltas: (state) => new Map(((state.result && state.result.deltas) || []).map((d) => [d.player_id, d.delta])),
  render(page) {
    const state = page.client.state;
    runCountdown(countdown, state, page.client, SPYSTER_COUNTDOWN);
    if (state.phase === "playing") playing(state);
    if (state.phase === "vote") vote(state);
    if (state.phase === "final_vote") {
      $("final-progress").textContent = fmt(gettext("%(done)s of %(all)s have voted"), {
        done: voted(state).length,
        all: state.players.length,
      });
    }
    if (state.phase === "scoreboard") result(state);
  },
});

/** Who has voted in the vote that runs now (nobody outside one). */
function voted(state) {
  if (state.phase === "vote" && state.accusation) return state.accusation.voted;
  if (state.phase === "final_vote" && state.final_vote) return state.final_vote.voted;
  return [];
}

let shownLocations = "";

function playing(state) {
  $("first-asker").textContent = state.first_player_id
    ? fmt(gettext("%(name)s asks the first question."), { name: nameOf(state, state.first_player_id) })
    : "";
  $("last-vote").textContent = state.last_vote ? voteText(state, state.last_vote) : "";
  $("last-vote").hidden = !state.last_vote;
  const used = (state.accusations_used || []).map((id) => nameOf(state, id));
  $("accusations-used").textContent = used.length
    ? fmt(gettext("Accusations used: %(names)s."), { names: used.join(", ") })
    : gettext("Nobody has accused anyone yet.");
  const key = JSON.stringify(state.locations || []);
  if (key !== shownLocations) {
    shownLocations = key;
    fill($("host-locations"), (state.locations || []).map((name) => h("li", { className: "location" }, name)));
  }
}

function vote(state) {
  const accusation = state.accusation;
  if (!accusation) return;
  $("vote-accuser").textContent = nameOf(state, accusation.accuser_id);
  $("vote-accused").textContent = nameOf(state, accusation.accused_id);
  fill(
    $("vote-voters"),
    accusation.voters.map((id) => {
      const done = accusation.voted.includes(id);
      return h(
        "li",
        { className: done ? "player done" : "player", dataset: { playerId: id } },
        h("span", { className: "player-name" }, nameOf(state, id)),
        h("span", { className: "player-score" }, done ? gettext("voted") : gettext("thinking…")),
      );
    }),
  );
  $("vote-clock").textContent =
    typeof state.clock_ms === "number"
      ? fmt(gettext("The round's clock is stopped at %(clock)s."), { clock: clock(state.clock_ms) })
      : "";
}

function result(state) {
  const r = state.result;
  $("round-result").hidden = !r;
  if (!r) return;
  const headline = r.winner === "spy" ? gettext("The spy wins!") : gettext("The spy is caught!");
  $("result-headline").textContent = `${headline} ${fmt(gettext("The spy was %(name)s."), { name: r.spy_name })}`;
  $("result-location").textContent = r.location;
  $("result-how").textContent = howText(state, r);
  const deltas = new Map(r.deltas.map((d) => [d.player_id, d.delta]));
  fill(
    $("result-roles"),
    r.roles.map((p) =>
      h(
        "li",
        { className: p.spy ? "player spy-row" : "player", dataset: { playerId: p.player_id } },
        h("span", { className: "player-name" }, p.name),
        h("span", { className: "player-role" }, p.spy ? gettext("the spy") : p.role),
        deltas.get(p.player_id) ? h("span", { className: "delta-chip" }, points(deltas.get(p.player_id))) : null,
      ),
    ),
  );
}
