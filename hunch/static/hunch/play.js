// `/play/<code>/` of Hunch: the platform's phone page with the secret card
// (hidden until tapped, so a neighbour cannot glance at it) and the guess.
// The secret comes privately: `hunch.secret`, and `player.state` (as
// client.you) after every (re)connect.
import { $, Countdown, addMessages, fmt, gettext, points, runCountdown, toastError } from "../lobby/common.js";
import { playerPage } from "../lobby/player.js";
import { hunchReducer } from "./events.js";

addMessages({
  ALREADY_GUESSED: gettext("You already guessed this round."),
  INVALID_FIELD: gettext("Type a whole number, 0 or more."),
});

const countdown = new Countdown($("countdown"));
let shownRound = null;

const page = playerPage({
  reducers: [hunchReducer],
  titles: { guessing: gettext("Guess the total") },
  onStart(started) {
    // The private event: the secret of a new round (hide the card again).
    started.client.on("hunch.secret", (event) => {
      started.client.you = { ...(started.client.you || {}), secret: event.payload.secret, guess: null };
      started.render();
    });
  },
  render(current) {
    const state = current.client.state;
    const you = current.client.you || {};
    runCountdown(countdown, state, current.client, { show: (s) => s.phase === "guessing" });
    if (state.phase === "guessing") guessing(state, you);
    if (state.phase === "scoreboard" && state.last_round) {
      const mine = state.last_round.players.find((p) => p.player_id === current.myId());
      $("round-total").textContent = String(state.last_round.total);
      $("my-round").textContent = mine
        ? fmt(gettext("Your %(secret)s, your guess %(guess)s: %(points)s"), {
            secret: mine.secret,
            guess: mine.guess ?? "–",
            points: points(mine.points),
          })
        : "";
    }
  },
});

function guessing(state, you) {
  if (shownRound !== state.round) {
    shownRound = state.round;
    setCard(false);
    /** @type {HTMLInputElement} */ ($("total")).value = "";
  }
  $("secret-value").textContent = you.secret ? String(you.secret) : "…";
  const guessed = you.guess !== null && you.guess !== undefined;
  $("guess-form").hidden = guessed;
  $("guess-status").textContent = guessed
    ? fmt(gettext("You guessed %(guess)s. Waiting for the others…"), { guess: you.guess })
    : "";
}

function setCard(open) {
  $("secret-card").setAttribute("aria-pressed", String(open));
  $("secret-value").hidden = !open;
  $("secret-hint").textContent = open ? gettext("Tap to hide it") : gettext("Tap to see your secret number");
}

$("secret-card").addEventListener("click", () => {
  setCard($("secret-value").hidden);
});

$("guess-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = /** @type {HTMLButtonElement} */ ($("guess-button"));
  button.disabled = true;
  try {
    // Over the socket (the action's client message); the REST twin is POST …/guess/.
    const total = Number(/** @type {HTMLInputElement} */ ($("total")).value);
    const body = await page.client.act("hunch.guess", { total });
    page.client.you = { ...(page.client.you || {}), guess: body.total };
    page.render();
  } catch (err) {
    toastError(err);
  } finally {
    button.disabled = false;
  }
});
