// Data quality: the per-rep report of the last 30 days and the degradation alerts.

import { api } from "./api.js";
import { $, fill, h, table } from "./dom.js";
import { percent, words } from "./format.js";

const RATES = [
  ["no_disposition", "No disposition"],
  ["no_crm_record", "No Lead/Contact"],
  ["off_picklist", "Off the picklist"],
];
const METRICS = {
  no_disposition: "calls logged without a disposition",
  no_crm_record: "calls logged without their Lead or Contact",
  off_picklist: "dispositions off the picklist",
  unmapped_disposition: "dispositions that map to nothing",
  no_duration: "calls without a duration",
  quarantined: "rejected calls",
};

export function createQuality({ key }) {
  async function refresh() {
    const [alerts, report] = await Promise.all([
      api.get(key(), "/v1/quality/alerts", { limit: 50 }),
      api.get(key(), "/v1/quality", { group_by: "rep" }),
    ]);
    const flagged = new Set(alerts.filter((a) => a.dimension === "rep").map((a) => a.value));
    fill($("alert-list"), alerts.length
      ? alerts.map((a) => h("li", { class: "alert" },
          h("strong", {}, `${a.dimension === "all" ? "All calls" : `${a.dimension} ${a.value || "(none)"}`}: ${METRICS[a.metric] || words(a.metric)} rose from ${percent(a.rate_before)} to ${percent(a.rate_now)}`),
          h("span", { class: "sub" }, ` on ${a.day}, ${a.count_now} of ${a.calls_now} calls (baseline ${a.baseline_from} to ${a.baseline_to}, ${a.calls_before} calls)`)))
      : [h("li", { class: "empty" }, "No alerts: every rep logs as well as their own baseline.")]);
    const groups = report.groups
      .filter((g) => g.group)
      .sort((a, b) => flagged.has(b.group) - flagged.has(a.group) || b.calls - a.calls);
    table($("rep-table"), ["Rep", "Calls", ...RATES.map(([, label]) => label), "Status"],
      groups.map((g) => [g.group, g.calls.toLocaleString(), ...RATES.map(([rate]) => percent(g.rates[rate])),
        flagged.has(g.group) ? h("span", { class: "badge warn" }, "alert") : h("span", { class: "sub" }, "ok")]));
    for (const row of $("rep-table").querySelectorAll("tbody tr")) {
      if (row.querySelector(".badge.warn")) row.classList.add("flagged");
    }
  }

  return { refresh };
}
