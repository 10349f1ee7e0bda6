// Hunch's public events applied to the local state (the platform's own are
// applied by lobby/platform.js after this reducer).

/**
 * @param {Object|null} state
 * @param {{type: string, payload?: Object}} event
 * @returns {Object|undefined} the new state, or undefined for an event that is not Hunch's
 */
export function hunchReducer(state, event) {
  const p = event.payload || {};
  const s = { ...(state || {}) };
  switch (event.type) {
    case "hunch.round_started":
      return Object.assign(s, {
        phase: "guessing",
        round: p.round,
        rounds: p.rounds ?? s.rounds,
        time_limit: p.time_limit,
        deadline: p.deadline ?? null,
        guessed: [],
        last_round: null,
        ranking: null,
      });
    case "hunch.guessed":
      return Object.assign(s, { guessed: p.guessed });
    case "hunch.round_over":
      return Object.assign(s, { last_round: p, guessed: [] });
    default:
      return undefined;
  }
}
