// What both quiz pages share: its error texts, its countdowns, and the
// step-by-step reveal on screen (which steps are up now, when the next one is).
import { addMessages, gettext } from "../lobby/common.js";

addMessages({
  LIE_IS_TRUTH: gettext("That's the true answer! Write a lie instead."),
  OWN_LIE: gettext("That's your own lie: pick another answer."),
  ALREADY_GUESSED: gettext("You already picked an answer this round."),
  NO_QUESTIONS_LEFT: gettext("The question bank has run out of new questions."),
  INVALID_LIE: gettext("A lie needs at least one letter or digit, and fits in the box."),
  UNKNOWN_ANSWER: gettext("That answer is not in this round any more."),
});

/**
 * runCountdown's options for the quiz: the lie countdown (lie and question
 * phases share it) and the guess countdown; the results and the scoreboard
 * move on by themselves without showing one.
 */
export const QUIZ_COUNTDOWN = {
  show: (state) => ["lie", "question", "guess"].includes(state.phase) && Boolean(state.time_limit),
  key: (state) => `${state.round}:${state.phase === "guess" ? "guess" : "lie"}`,
};

/**
 * Where the reveal of the state's round stands now (docs/protocol.md: each
 * `phase.reveal_step` shows at its `reveal_at`, the full results at the
 * scores' `reveal_at`; both server time, turned into this clock).
 * `done` is true outside `scores`, without steps, and once the results are due.
 * @param {import("../lobby/partyhub-games.d.ts").SessionStatePayload} state
 * @param {import("../realtime/partyhub-client.js").PartyhubClient} client
 */
export function revealProgress(state, client) {
  const results = state.results;
  const steps = ((state.reveal && state.reveal.steps) || [])
    .filter((s) => results && s.round === results.round)
    .sort((a, b) => a.index - b.index);
  const endServer = results && typeof results.reveal_at === "number" ? results.reveal_at : state.reveal && state.reveal.reveal_at;
  const end = typeof endServer === "number" ? client.localTime(endServer) : 0;
  const now = Date.now();
  const done = state.phase !== "scores" || !steps.length || now >= end;
  const reached = done ? steps : steps.filter((s) => client.localTime(s.reveal_at) <= now);
  const upcoming = done ? [] : [...steps.map((s) => client.localTime(s.reveal_at)), end].filter((t) => t > now);
  // Scores before this round, then every reached step's running score.
  const score = new Map((results ? results.deltas : []).map((d) => [d.player_id, d.score - d.delta]));
  const gained = new Map();
  for (const step of reached) {
    for (const p of step.points) {
      score.set(p.player_id, p.score);
      gained.set(p.player_id, (gained.get(p.player_id) || 0) + p.points);
    }
  }
  return {
    steps,
    reached,
    done,
    /** local epoch ms of the next step (or the results), null when nothing is left */
    nextAt: upcoming.length ? Math.min(...upcoming) : null,
    /** the score to show now; `fallback` (the state's score) once the reveal is over */
    scoreOf: (id, fallback) => (done || !score.has(id) ? fallback : score.get(id)),
    /** the points this round's reached steps gave */
    gainedOf: (id) => gained.get(id) || 0,
    truthShown: reached.some((s) => s.answer.is_truth),
  };
}

let revealTimer = 0;

/** Call `render` again at local time `at` (the next reveal step); null cancels. */
export function rerenderAt(at, render) {
  clearTimeout(revealTimer);
  revealTimer = at === null ? 0 : setTimeout(render, Math.max(0, at - Date.now()) + 20);
}
