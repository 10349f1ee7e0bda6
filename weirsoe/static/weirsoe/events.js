// The quiz's events applied to the local state (the reducers pages give
// PartyhubClient): its own events here, the platform's in lobby/platform.js.
import { applyEvent as apply } from "../realtime/partyhub-client.js";
import { platformReducer } from "../lobby/platform.js";

/**
 * @param {Object|null} state
 * @param {{type: string, payload?: Object}} event
 * @returns {Object|undefined} the new state, or undefined for an event that is not the quiz's
 */
export function quizReducer(state, event) {
  const p = event.payload || {};
  const s = /** @type {any} */ ({ ...(state || {}) });
  switch (event.type) {
    case "phase.lie_started":
      return Object.assign(s, {
        phase: "lie",
        round: p.round,
        rounds: p.rounds ?? s.rounds,
        question: { prompt: p.prompt, category: p.category },
        time_limit: p.time_limit,
        deadline: p.deadline ?? null,
        answers: null,
        lies_submitted: [],
        guesses_submitted: [],
        results: null,
        ranking: null,
      });
    case "phase.question_shown":
      return Object.assign(s, {
        phase: "question",
        round: p.round,
        question: { prompt: p.question, category: p.category },
      });
    case "phase.guess_started":
      return Object.assign(s, {
        phase: "guess",
        round: p.round,
        answers: p.answers,
        time_limit: p.time_limit,
        deadline: p.deadline ?? null,
      });
    case "phase.scores_calculated": {
      Object.assign(s, { phase: "scores", round: p.round, results: p, deadline: p.deadline ?? null });
      delete s.time_limit;
      const scores = new Map((p.deltas || []).map((d) => [d.player_id, d.score]));
      s.players = (s.players || []).map((pl) =>
        scores.has(pl.player_id) ? { ...pl, score: scores.get(pl.player_id) } : pl,
      );
      return s;
    }
    case "phase.reveal_step": {
      const steps = (s.reveal && s.reveal.steps) || [];
      s.reveal = { ...(s.reveal || {}), steps: [...steps.filter((x) => x.index !== p.index), p] };
      return s;
    }
    case "phase.game_over": {
      // The platform's fields, and the round's are gone.
      const over = platformReducer(s, event);
      Object.assign(over, { question: null, answers: null, results: null });
      delete over.time_limit;
      return over;
    }
    default:
      return undefined;
  }
}

/** The reducers of a quiz page: the quiz's first, then the platform's. */
export const reducers = [quizReducer, platformReducer];

/**
 * The local state after one event of a quiz session; unknown events leave it as it was.
 * @param {Object|null} state
 * @param {{type: string, payload?: Object}} event
 */
export function applyEvent(state, event) {
  return apply(state, event, reducers);
}
