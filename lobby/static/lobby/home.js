// `/`: create a game of any registered kind (then open the big screen), or
// join one by code. Each game's settings form is built from its settings
// table (config.games, the same list as GET /api/games/), with its options
// and a signed-in host's presets (homeoptions.js). Games this device is in
// (saved identities) are offered first: "Continue as <name>".
import { apiRequest, forgetIdentity, savedIdentities, saveIdentity } from "../realtime/partyhub-client.js";
import { $, fill, fmt, gettext, h, pageConfig, toastError } from "./common.js";
import { applySettings, optionRows, optionValues, presetRow, requestHeaders } from "./homeoptions.js";

const config = pageConfig();
const createForm = /** @type {HTMLFormElement} */ ($("create-form"));
const joinForm = /** @type {HTMLFormElement} */ ($("join-form"));
const codeInput = /** @type {HTMLInputElement} */ ($("join-code"));

codeInput.addEventListener("input", () => {
  codeInput.value = codeInput.value.toUpperCase().replace(/[^A-Z]/g, "").slice(0, 4);
});

/** The chosen game's entry of config.games. */
function chosenGame() {
  const checked = /** @type {HTMLInputElement|null} */ (createForm.querySelector("input[name=game]:checked"));
  const name = checked ? checked.value : config.default;
  return config.games.find((g) => g.game === name) || config.games[0];
}

/** One form row for a setting of the table. */
function settingRow(setting) {
  if (setting.type === "bool") {
    const hintId = `${setting.name}-hint`;
    return h(
      "div",
      { className: "check-row" },
      h("input", {
        id: setting.name,
        name: setting.name,
        type: "checkbox",
        checked: Boolean(setting.form_default),
        "aria-describedby": hintId,
      }),
      h("label", { htmlFor: setting.name }, setting.label),
      setting.help ? h("p", { className: "hint", id: hintId }, setting.help) : null,
    );
  }
  return h(
    "div",
    { className: "field-row" },
    h("label", { htmlFor: setting.name }, setting.label),
    h("input", {
      id: setting.name,
      name: setting.name,
      type: "number",
      inputMode: "numeric",
      min: String(setting.min),
      max: String(setting.max),
      value: String(setting.form_default),
      required: true,
    }),
    setting.help ? h("p", { className: "hint" }, setting.help) : null,
  );
}

function renderSettings() {
  const game = chosenGame();
  $("game-heading").textContent = game.title;
  $("game-lead").textContent = game.pitch;
  const pick = (preset) => applySettings(createForm, game, preset.settings);
  const rows = [presetRow(game, config, pick), ...game.settings.map(settingRow), ...optionRows(game, config)];
  fill($("settings-fields"), rows.filter(Boolean));
}

for (const radio of createForm.querySelectorAll("input[name=game]")) {
  radio.addEventListener("change", renderSettings);
}
// `/?game=<name>&preset=<id>` (from My presets): that game, that preset.
const selected = config.selected || {};
const wanted = createForm.querySelector(`input[name=game][value="${CSS.escape(selected.game || "")}"]`);
if (wanted) wanted.checked = true;
renderSettings();
const presetSelect = /** @type {HTMLSelectElement|null} */ ($("preset"));
if (presetSelect && selected.preset) {
  presetSelect.value = selected.preset;
  presetSelect.dispatchEvent(new Event("change"));
}

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
    const game = chosenGame();
    const body = { game: game.game };
    for (const setting of game.settings) {
      const input = /** @type {HTMLInputElement} */ (createForm.elements[setting.name]);
      body[setting.name] = setting.type === "bool" ? input.checked : Number(input.value);
    }
    Object.assign(body, optionValues(createForm, game));
    const preset = /** @type {HTMLSelectElement|null} */ ($("preset"));
    if (preset && preset.value) body.preset = Number(preset.value);
    const headers = requestHeaders(config);
    const created = await apiRequest("POST", "/api/sessions/", { body, headers });
    saveIdentity(created.code, "host", { token: created.host_token });
    window.location.assign(`/host/${created.code}/`);
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

/**
 * "Your games on this device": each saved identity whose game still runs
 * (asked with its token), as a link back in; ended or unknown ones are
 * forgotten.
 */
async function offerToContinue() {
  const saved = [
    ...savedIdentities("player").map((identity) => ({ ...identity, role: "player" })),
    ...savedIdentities("host").map((identity) => ({ ...identity, role: "host" })),
  ];
  const rows = [];
  for (const identity of saved.slice(0, 6)) {
    let state;
    try {
      state = await apiRequest("GET", `/api/sessions/${encodeURIComponent(identity.code)}/`, { token: identity.token });
    } catch (err) {
      if (err.status === 404 || err.status === 401 || err.status === 403) forgetIdentity(identity.code, identity.role);
      continue;
    }
    if (state.phase === "finished" || state.closed) {
      forgetIdentity(identity.code, identity.role);
      continue;
    }
    const host = identity.role === "host";
    const label = host
      ? fmt(gettext("Back to the big screen of game %(code)s"), identity)
      : fmt(gettext("Continue as %(name)s in game %(code)s"), { name: identity.name || "?", code: identity.code });
    rows.push(
      h(
        "li",
        {},
        h("a", { className: "button-link", href: `/${host ? "host" : "play"}/${identity.code}/`, dataset: { code: identity.code, role: identity.role } }, label),
      ),
    );
  }
  fill($("continue-list"), rows);
  $("continue-card").hidden = rows.length === 0;
}

offerToContinue().catch(() => {});
