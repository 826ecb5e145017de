// Live floor: every call_logged event from the stream, newest first, with counters.

import { api } from "./api.js";
import { $, fill, h, throttle } from "./dom.js";
import { clock, percent, resolutionBadge, talk, words } from "./format.js";

const KEEP_ROWS = 30;

export function createFloor({ key, openPerson }) {
  const arrivals = []; // when each call event arrived here, for calls per minute
  let identityEvents = 0;

  const refreshToday = throttle(async () => {
    if (!key()) return;
    const today = new Date().toISOString().slice(0, 10);
    try {
      const insight = await api.get(key(), "/v1/insights/connect-rate", { by: "hour", from: today, to: today, direction: "" });
      const calls = insight.rows.reduce((sum, row) => sum + row.calls, 0);
      const connects = insight.rows.reduce((sum, row) => sum + row.connects, 0);
      $("calls-today").textContent = calls.toLocaleString();
      $("connect-rate-today").textContent = calls ? percent(connects / calls) : "–";
    } catch {
      // the counters stay as they were; the next call tries again
    }
  }, 2000);

  setInterval(() => {
    const cutoff = Date.now() - 60_000;
    while (arrivals.length && arrivals[0] < cutoff) arrivals.shift();
    $("calls-last-minute").textContent = arrivals.length;
  }, 1000);

  // Events carry no personal data: the name comes from the API, with this page's key.
  const names = new Map();
  async function nameInto(button, individualId) {
    if (!names.has(individualId)) {
      names.set(individualId, api.get(key(), `/v1/individuals/${encodeURIComponent(individualId)}`).then(
        (p) => ({ name: [p.first_name, p.last_name].filter(Boolean).join(" "), company: p.company }),
        () => ({ name: "", company: null })));
      if (names.size > 500) names.delete(names.keys().next().value);
    }
    const { name, company } = await names.get(individualId);
    fill(button, name || "(no name)", company ? h("span", { class: "sub" }, ` · ${company}`) : null);
  }

  function onCall(event) {
    const call = event.current_value;
    arrivals.push(Date.now());
    $("calls-last-minute").textContent = arrivals.length;
    const badge = resolutionBadge(call.resolution);
    if (badge && (badge.kind === "link" || badge.kind === "merge")) {
      identityEvents += 1;
      $("identity-events").textContent = identityEvents;
    }
    const person = call.individual_id
      ? h("button", { type: "button", class: "link", onclick: () => openPerson(call.individual_id) }, "…")
      : h("span", { class: "sub" }, "unidentified caller");
    if (call.individual_id) nameInto(person, call.individual_id);
    const updated = event.previous_value ? h("span", { class: "badge" }, `updated from ${words(event.previous_value.disposition)}`) : null;
    const row = h("tr", { class: "arrived", "data-call-id": call.call_id, "data-individual-id": call.individual_id || "" },
      h("td", {}, clock(event.event_time)),
      h("td", {}, h("span", { class: `direction ${call.direction}` }, call.direction === "inbound" ? "↙ inbound" : "↗ outbound")),
      h("th", { scope: "row" }, person),
      h("td", {}, h("span", { class: call.connect ? "outcome connect" : "outcome" }, words(call.disposition)), updated),
      h("td", { class: "num" }, talk(call.talk_seconds)),
      h("td", {}, badge ? h("span", { class: `badge ${badge.kind}` }, badge.text) : h("span", { class: "sub" }, "same CRM record")),
    );
    const rows = $("floor-rows");
    rows.prepend(row);
    while (rows.children.length > KEEP_ROWS) rows.lastElementChild.remove();
    $("floor-empty").hidden = true;
    refreshToday();
  }

  // Without a stream rule for every call there is nothing to show: say how to add one.
  async function checkRule() {
    if (!key()) return;
    try {
      const { rules } = await api.get(key(), "/v1/activations");
      const has = rules.some((r) => r.trigger.type === "call" && r.target.type === "stream");
      const hint = $("floor-hint");
      hint.hidden = has;
      if (!has) {
        fill(hint, "No activation rule streams every call yet: POST ",
          h("code", {}, '{"name": "floor", "trigger": {"type": "call"}, "target": {"type": "stream"}}'),
          " to /v1/activations (make run does this).");
      }
    } catch {
      // a key without segments:write cannot list rules; make run sets the rule up anyway
    }
  }

  function start() {
    refreshToday();
    checkRule();
  }

  return { onCall, start };
}
