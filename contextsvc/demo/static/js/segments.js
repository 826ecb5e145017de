// Segments: every segment with its live member count; select one to list its members.

import { api } from "./api.js";
import { $, fill, h, throttle } from "./dom.js";
import { plural } from "./format.js";

const MEMBERS_SHOWN = 20;

export function createSegments({ key, openPerson }) {
  const counts = new Map();

  async function refresh() {
    const { segments } = await api.get(key(), "/v1/segments");
    fill($("segment-list"), segments.map((segment) => {
      const before = counts.get(segment.id);
      counts.set(segment.id, segment.members);
      const changed = before !== undefined && before !== segment.members;
      return h("li", { class: "segment", "data-segment-id": segment.id },
        h("div", { class: changed ? "count changed" : "count", "aria-label": `${segment.members} members` }, segment.members.toLocaleString()),
        h("div", {},
          h("h3", {}, segment.name),
          h("p", { class: "sub" }, segment.description || ""),
          h("p", { class: "sub" }, `${segment.subject === "account" ? "Accounts" : "People"} · exact for ${segment.evaluated_for || "–"}`
            + (changed ? ` · ${segment.members > before ? "+" : ""}${segment.members - before} just now` : "")),
          h("button", { type: "button", class: "secondary", onclick: () => members(segment) }, "Show members")));
    }));
  }

  async function members(segment) {
    const page = await api.get(key(), `/v1/segments/${encodeURIComponent(segment.id)}/members`, { limit: MEMBERS_SHOWN });
    $("members-h").textContent = `${segment.name}: ${plural(page.count, "member")}${page.count > MEMBERS_SHOWN ? `, first ${MEMBERS_SHOWN}` : ""}`;
    const list = $("member-list");
    if (segment.subject === "account") {
      fill(list, page.members.map((m) => h("li", {}, h("code", {}, m.id), h("span", { class: "sub" }, ` since ${m.entered_at.slice(0, 10)}`))));
    } else {
      // Names from the identity API, one small request per member shown.
      const people = await Promise.all(page.members.map((m) => api.get(key(), `/v1/individuals/${encodeURIComponent(m.id)}`).catch(() => null)));
      fill(list, page.members.map((m, i) => {
        const p = people[i];
        const name = p ? [p.first_name, p.last_name].filter(Boolean).join(" ") || m.id : m.id;
        return h("li", {},
          h("button", { type: "button", class: "link", onclick: () => openPerson(m.id) }, name),
          h("span", { class: "sub" }, [" ", p && p.company, p && plural(p.calls, "call")].filter(Boolean).join(" · ")));
      }));
    }
    $("segment-members").hidden = false;
  }

  return { refresh, onChange: throttle(() => refresh().catch(() => {}), 1000) };
}
