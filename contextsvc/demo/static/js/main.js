// Wires the panels together: keys, tabs, and the one event stream every panel listens to.

import { keys as keyStore, subscribe } from "./api.js";
import { createAgent } from "./agent.js";
import { $ } from "./dom.js";
import { createFloor } from "./floor.js";
import { createPerson } from "./person.js";
import { createQuality } from "./quality.js";
import { createSegments } from "./segments.js";

let keys = keyStore.load();
const mainKey = () => keys.main;

const STATUS = {
  live: ["Live", "live"],
  reconnecting: ["Reconnecting…", "warn"],
  refused: ["Key refused: check API keys", "bad"],
  idle: ["Not connected", ""],
};

function status(state, error) {
  const [text, cls] = STATUS[state];
  const el = $("stream-status");
  el.textContent = error && state === "refused" ? `${text} (${error.message})` : text;
  el.className = `pill ${cls}`;
}

// --- tabs (WAI-ARIA tabs pattern: arrow keys move between them) ---------------------------
const tabs = [...document.querySelectorAll('[role="tab"]')];
const onShow = {};

function select(tab) {
  for (const other of tabs) {
    const on = other === tab;
    other.setAttribute("aria-selected", String(on));
    other.tabIndex = on ? 0 : -1;
    $(other.getAttribute("aria-controls")).hidden = !on;
  }
  const show = onShow[tab.id];
  if (show) show();
}

for (const tab of tabs) {
  tab.addEventListener("click", () => select(tab));
  tab.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const next = tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
    next.focus();
    select(next);
  });
}

// --- panels ------------------------------------------------------------------------------
const person = createPerson({ key: mainKey, onOpened: () => agent.refresh() });
const openPerson = (individualId) => {
  select($("tab-person"));
  person.open(individualId).catch(() => {});
};
const floor = createFloor({ key: mainKey, openPerson });
const agent = createAgent({ keys: () => keys, person, budget: () => Number($("budget").value) });
const segments = createSegments({ key: mainKey, openPerson });
const quality = createQuality({ key: mainKey });

const report = (error) => status(error && error.status === 401 ? "refused" : "live", error);
onShow["tab-agent"] = () => agent.refresh();
onShow["tab-segments"] = () => segments.refresh().catch(report);
onShow["tab-quality"] = () => quality.refresh().catch(report);

// --- the event stream --------------------------------------------------------------------
let unsubscribe = null;

function connect() {
  if (unsubscribe) unsubscribe();
  if (!keys.main) {
    status("idle");
    $("keys-dialog").showModal();
    return;
  }
  unsubscribe = subscribe(keys.main, (type, event) => {
    if (type === "call_logged") {
      floor.onCall(event);
      person.onCall(event);
    } else if (type === "segment_entered" || type === "segment_left") {
      segments.onChange();
    } else if (type === "quality_alert_raised") {
      quality.refresh().catch(() => {});
    }
  }, status);
  floor.start();
}

$("open-keys").addEventListener("click", () => {
  $("key-main").value = keys.main;
  $("key-masked").value = keys.masked;
  $("keys-dialog").showModal();
});
$("keys-form").addEventListener("submit", () => {
  keyStore.save($("key-main").value.trim(), $("key-masked").value.trim());
  keys = keyStore.load();
  connect();
});

connect();
