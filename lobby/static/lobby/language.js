// The footer's language switcher: a new choice applies at once (the form's
// button stays for keyboards and pages without scripts).
const form = /** @type {HTMLFormElement|null} */ (document.getElementById("language-form"));
if (form) {
  const select = /** @type {HTMLSelectElement} */ (form.elements.namedItem("language"));
  select.addEventListener("change", () => form.requestSubmit());
}
