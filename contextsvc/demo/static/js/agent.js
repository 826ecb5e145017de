// What the agent sees: POST /v1/agent/call-context for the person on screen, with the
// main key or with one that lacks pii:read, so the masking is the service's, not the page's.

import { api } from "./api.js";
import { $, fill, h, showError } from "./dom.js";

const PII_FIELDS = new Set(["phone", "email", "last_recording_url"]);

function shown(value) {
  if (value === null || value === undefined) return h("span", { class: "sub" }, "null");
  if (Array.isArray(value)) return value.length ? value.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join("\n") : "[]";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function createAgent({ keys, person, budget }) {
  let request = 0;

  function chosenKey() {
    const which = document.querySelector('input[name="agent-key"]:checked').value;
    return which === "masked" ? keys().masked : keys().main;
  }

  async function refresh() {
    const individualId = person.current();
    $("agent-empty").hidden = Boolean(individualId);
    if (!individualId) return;
    const key = chosenKey();
    if (!key) {
      showError($("agent-error"), { message: "no key without pii:read is set: add one under API keys" });
      $("agent-view").hidden = true;
      return;
    }
    const body = { record_id: individualId, max_tokens: budget() };
    const mine = ++request;
    try {
      const answer = await api.post(key, "/v1/agent/call-context", body);
      if (mine !== request) return;
      showError($("agent-error"), null);
      $("agent-request").textContent = `POST /v1/agent/call-context\nAuthorization: Bearer (the key ${key === keys().main ? "with" : "without"} pii:read)\n\n${JSON.stringify(body, null, 2)}`;
      fill($("agent-fields"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Field"), h("th", { scope: "col" }, "Value"))),
        h("tbody", {}, Object.entries(answer).filter(([field]) => field !== "prompt").map(([field, value]) =>
          h("tr", { class: PII_FIELDS.has(field) ? "pii" : null, "data-field": field },
            h("th", { scope: "row" }, h("code", {}, field)),
            h("td", {}, shown(value))))));
      $("agent-prompt").textContent = answer.prompt;
      $("agent-view").hidden = false;
    } catch (error) {
      if (mine === request) showError($("agent-error"), error);
    }
  }

  for (const radio of document.querySelectorAll('input[name="agent-key"]')) radio.addEventListener("change", refresh);
  return { refresh };
}
