// What both Spyster pages share: its error texts, its countdown, the
// names of players, and how a round ended, in words.
import { addMessages, fmt, gettext } from "../lobby/common.js";

addMessages({
  ALREADY_ACCUSED: gettext("You have already made your accusation this round."),
  ALREADY_VOTED: gettext("Your vote is already in."),
  NOT_A_VOTER: gettext("You are the one accused: the others vote."),
  NOT_THE_SPY: gettext("Only the spy can guess the location."),
  UNKNOWN_LOCATION: gettext("That is not one of the locations."),
  SELF_ACCUSED: gettext("Pick someone other than yourself."),
  UNKNOWN_PLAYER: gettext("That player is not in the game any more."),
  NO_DECK: gettext("This server has no locations yet: ask its owner to run `manage.py migrate`."),
});

/** The phases of a round (spyster/state.py). */
export const ROUND_PHASES = ["playing", "vote", "final_vote"];

/** runCountdown's options: a countdown in every phase of a round (the vote's own during a vote). */
export const SPYSTER_COUNTDOWN = {
  show: (state) => ROUND_PHASES.includes(state.phase),
  key: (state) => `${state.round}:${state.phase}:${state.deadline}`,
};

/** The name of player `id` in the state (or "someone"). */
export function nameOf(state, id) {
  const players = [...((state && state.players) || []), ...(((state && state.result) || {}).roles || [])];
  const found = players.find((p) => p.player_id === id);
  return found ? found.name : gettext("someone");
}

/** "4:05" from milliseconds. */
export function clock(ms) {
  const left = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
}

/**
 * How a round ended, in one sentence (`how` of spyster.round_over).
 * @param {Object} state
 * @param {Object} result  the spyster.round_over payload
 */
export function howText(state, result) {
  const spy = result.spy_name || nameOf(state, result.spy_id);
  const accuser = nameOf(state, result.accuser_id);
  switch (result.how) {
    case "caught":
      return fmt(gettext("%(accuser)s's accusation unmasked %(spy)s: everyone else wins."), { accuser, spy });
    case "framed":
      return fmt(gettext("Everyone agreed on %(accused)s, who was innocent: the spy wins."), {
        accused: nameOf(state, result.accused_id),
      });
    case "guessed":
      return fmt(gettext("%(spy)s named the location: the spy wins."), { spy });
    case "misguessed":
      return fmt(gettext("%(spy)s guessed %(guess)s, which was wrong: everyone else wins."), { spy, guess: result.guess });
    case "voted_out":
      return fmt(gettext("Time ran out and the majority named %(spy)s: everyone else wins."), { spy });
    case "survived":
      return fmt(gettext("Time ran out and no majority named %(spy)s: the spy wins."), { spy });
    case "spy_left":
      return fmt(gettext("%(spy)s left the game: nobody scores this round."), { spy });
    default:
      return "";
  }
}

/** How an accusation's vote went, in one sentence (spyster.vote_result). */
export function voteText(state, vote) {
  const accused = nameOf(state, vote.accused_id);
  const no = vote.votes.filter((v) => !v.agree).map((v) => nameOf(state, v.player_id));
  switch (vote.result) {
    case "rejected":
      return fmt(gettext("The vote on %(accused)s failed: %(no)s said no."), { accused, no: no.join(", ") });
    case "timed_out":
      return fmt(gettext("The vote on %(accused)s ran out of time."), { accused });
    case "cancelled":
      return fmt(gettext("%(accused)s left: the vote is off."), { accused });
    default:
      return "";
  }
}
