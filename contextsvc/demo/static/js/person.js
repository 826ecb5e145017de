// Person: find someone (the MCP find_person tool), then their call context card, the
// 90-day chart, identifiers with their rules, and the prompt block under a token budget.

import { api, mcpTool } from "./api.js";
import { drawChart } from "./chart.js";
import { $, fill, h, showError, table, throttle } from "./dom.js";
import { ago, clock, day, percent, plural, talk, words } from "./format.js";

const RECENT = 10;
const FULL_BUDGET = 4000; // the service's maximum: every line of the block

export function createPerson({ key, onOpened }) {
  let current = null; // individual id on screen
  let fullLines = [];
  let promptRequest = 0;

  async function search(query) {
    const results = $("search-results");
    fill(results, h("p", { class: "sub" }, "Searching…"));
    try {
      const found = await mcpTool(key(), "find_person", { query, limit: 8 });
      if (!found.length) {
        fill(results, h("p", { class: "empty" }, `No one matches “${query}”.`));
        return;
      }
      fill(results, h("p", { class: "sub" }, `${plural(found.length, "match", "matches")} (find_person, the MCP tool agents use):`),
        h("ul", { class: "results" }, found.map((p) => h("li", {},
          h("button", { type: "button", class: "result", onclick: () => open(p.individual_id) },
            h("strong", {}, p.name || "(no name)"),
            h("span", { class: "sub" }, [p.title, p.company].filter(Boolean).join(", ")),
            h("span", { class: "sub" }, `${plural(p.calls, "call")} · matched on ${words(p.matched_on)}`))))));
      if (found.length === 1) await open(found[0].individual_id);
    } catch (error) {
      fill(results, h("p", { class: "error", role: "alert" }, `Search failed: ${error.message}`));
    }
  }

  async function open(individualId, note = "") {
    const [context, daily, person, agent] = await Promise.all([
      api.get(key(), `/v1/context/${encodeURIComponent(individualId)}`, { recent: RECENT, max_tokens: FULL_BUDGET }),
      api.get(key(), `/v1/context/${encodeURIComponent(individualId)}/daily`, { days: 90 }),
      api.get(key(), `/v1/individuals/${encodeURIComponent(individualId)}`),
      api.post(key(), "/v1/agent/call-context", { record_id: individualId, max_tokens: 20 }), // for its headline
    ]).catch((error) => {
      showError($("person-error"), error);
      throw error;
    });
    showError($("person-error"), null);
    current = context.individual_id;
    renderCard(context, person, agent.headline);
    drawChart($("person-chart"), daily.days);
    fullLines = context.prompt.split("\n");
    const slider = $("budget");
    slider.max = String(Math.max(100, Math.ceil((context.prompt_tokens + 10) / 10) * 10));
    if (!slider.dataset.touched) slider.value = String(Math.min(300, Number(slider.max)));
    await renderPrompt();
    $("person-live").textContent = note;
    $("person-card").hidden = false;
    onOpened(current);
  }

  function renderCard(context, person, headline) {
    const p = context.person;
    const s = context.summary;
    $("person-name").textContent = p.name || "(no name)";
    $("person-sub").textContent = [p.title, p.company, context.individual_id].filter(Boolean).join(" · ");
    $("person-headline").textContent = headline;
    fill($("person-signals"),
      context.signals.length
        ? h("ul", { class: "signals" }, context.signals.map((signal) => h("li", { class: `signal ${signal.severity}` },
            h("strong", {}, signal.message),
            h("span", { class: "sub" }, ` evidence: call ${signal.evidence.call_id || "–"} on ${day(signal.evidence.at)}`))))
        : h("p", { class: "sub" }, "No signals right now."),
      context.segments.length
        ? h("p", { class: "chips" }, "In segments: ", context.segments.map((seg) => h("span", { class: "chip" }, seg.name)))
        : null);
    const figures = [
      ["Calls", `${s.calls}`, `${s.outbound} out · ${s.inbound} in`],
      ["Conversations", `${s.connects}`, `${percent(s.connect_rate)} connect rate`],
      ["Talk time", talk(s.talk_seconds), ""],
      ["Last call", ago(s.days_since_last_call), words(s.last_disposition)],
      ["Last conversation", ago(s.days_since_last_connect), ""],
      ["Attempts to first connect", s.attempts_to_first_connect ?? "–", `${s.attempts_since_last_connect} since the last`],
      ["Do not call", s.do_not_call ? "YES" : "no", ""],
    ];
    fill($("person-summary"), figures.map(([label, value, note]) =>
      h("div", { class: label === "Do not call" && s.do_not_call ? "figure alarm" : "figure" },
        h("dt", {}, label), h("dd", {}, String(value), note ? h("span", { class: "sub" }, note) : null))));
    table($("person-windows"), ["Window", "Calls", "Out", "In", "Conversations", "Talk"],
      ["7d", "30d", "90d"].map((w) => {
        const win = context.windows[w];
        return [`Last ${w.replace("d", " days")}`, win.calls, win.outbound, win.inbound, win.connects, talk(win.talk_seconds)];
      }));
    const t7 = context.trend["7d"];
    const t30 = context.trend["30d"];
    const v = context.velocity;
    fill($("person-trend"), [
      ["Last 7 vs prior 7 days", `${t7.label}: ${t7.calls} vs ${t7.prior_calls} calls`],
      ["Last 30 vs prior 30 days", `${t30.label}: ${t30.calls} vs ${t30.prior_calls} calls`],
      ["Calls per week", `${v.calls_per_week_30d} (30 days) · ${v.calls_per_week_90d} (90 days)`],
      ["Median gap between touches", v.median_gap_days === null ? "–" : `${v.median_gap_days} days`],
      ["First touch to first conversation", v.days_first_touch_to_first_connect === null ? "not yet" : `${v.days_first_touch_to_first_connect} days`],
    ].map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, value))));
    table($("person-recent"), ["When (UTC)", "Direction", "Outcome", "Talk", "Notes"],
      context.recent_calls.map((c) => [`${day(c.started_at)} ${c.started_at.slice(11, 16)}`, c.direction, words(c.disposition),
        talk(c.talk_seconds), c.notes || ""]));
    table($("person-identifiers"), ["Identifier", "Value", "Linked by", "On call"],
      person.identifiers.filter((i) => i.kind !== "company").map((i) => [words(i.kind),
        i.display && i.kind !== "salesforce_id" ? i.display : i.value,
        i.rule === "new" ? "first seen" : words(i.rule), i.evidence.call_id || "–"]));
    fill($("person-merges"), person.merges.length
      ? h("ul", { class: "merges" }, person.merges.map((m) => h("li", {},
          `Merged ${m.merged_id} into this person by ${words(m.rule)} (call ${m.evidence.call_id || "–"}, ${day(m.merged_at)})`)))
      : null);
  }

  async function renderPrompt() {
    if (!current) return;
    const budget = Number($("budget").value);
    const request = ++promptRequest;
    const context = await api.get(key(), `/v1/context/${encodeURIComponent(current)}`, { recent: RECENT, max_tokens: budget });
    if (request !== promptRequest) return; // a newer position of the slider answered first
    const kept = new Map();
    for (const line of context.prompt.split("\n")) kept.set(line, (kept.get(line) || 0) + 1);
    const items = fullLines.map((line) => {
      const left = kept.get(line) || 0;
      if (left) kept.set(line, left - 1);
      return h("li", { class: left ? "kept" : "dropped" }, line, left ? null : h("span", { class: "visually-hidden" }, " (dropped)"));
    });
    fill($("prompt-lines"), items);
    $("prompt-lines").dataset.kept = String(items.filter((li) => li.className === "kept").length);
    $("budget-out").textContent = `${budget} tokens: ${context.prompt_tokens} used, ${items.filter((li) => li.className === "dropped").length} of ${fullLines.length} lines dropped`;
  }

  const onBudget = throttle(() => renderPrompt().catch((error) => showError($("person-error"), error)), 120);
  $("budget").addEventListener("input", () => {
    $("budget").dataset.touched = "1";
    onBudget();
  });
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = $("search-input").value.trim();
    if (query) search(query);
  });

  // A call for the person on screen (or one that merged them into someone): show it now.
  function onCall(event) {
    const call = event.current_value;
    if (!current || !call.individual_id) return;
    const merged = (call.resolution?.merged || []).some((m) => m.merged_id === current);
    if (call.individual_id === current || merged) {
      const note = `Updated live: ${call.direction} call, ${words(call.disposition)}, at ${clock(event.event_time)}`;
      open(call.individual_id, note).catch(() => {});
    }
  }

  return { open, onCall, current: () => current };
}
