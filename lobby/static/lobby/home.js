// `/`: create a game (then open the big screen) or join one by code.
import { apiRequest, saveIdentity } from "../realtime/partyhub-client.js";
import { $, toastError } from "./common.js";

const createForm = /** @type {HTMLFormElement} */ ($("create-form"));
const joinForm = /** @type {HTMLFormElement} */ ($("join-form"));
const codeInput = /** @type {HTMLInputElement} */ ($("join-code"));

codeInput.addEventListener("input", () => {
  codeInput.value = codeInput.value.toUpperCase().replace(/[^A-Z]/g, "").slice(0, 4);
});

/** Run `work` with the form's submit button disabled. */
async function busy(form, work) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await work();
  } catch (err) {
    toastError(err);
    button.disabled = false;
  }
}

createForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(createForm, async () => {
    const body = {};
    for (const name of ["rounds", "lie_time_limit", "guess_time_limit"]) {
      body[name] = Number(createForm.elements[name].value);
    }
    const game = await apiRequest("POST", "/api/sessions/", { body });
    saveIdentity(game.code, "host", { token: game.host_token });
    window.location.assign(`/host/${game.code}/`);
  });
});

joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(joinForm, async () => {
    const code = codeInput.value.trim().toUpperCase();
    const name = /** @type {HTMLInputElement} */ ($("join-name")).value.trim();
    const joined = await apiRequest("POST", `/api/sessions/${encodeURIComponent(code)}/join/`, {
      body: { name },
    });
    saveIdentity(code, "player", {
      token: joined.session_token,
      player_id: joined.player_id,
      name: joined.name,
    });
    window.location.assign(`/play/${code}/`);
  });
});
