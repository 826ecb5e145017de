// How figures read on screen.

export const words = (code) => (code ? code.replaceAll("_", " ") : "no disposition");

export function talk(seconds) {
  const s = Math.round(seconds || 0);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

export const percent = (ratio) => (ratio === null || ratio === undefined ? "–" : `${Math.round(ratio * 1000) / 10}%`);

export const day = (iso) => (iso ? iso.slice(0, 10) : "–");

export function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function ago(days) {
  if (days === null || days === undefined) return "never";
  return days === 0 ? "today" : days === 1 ? "yesterday" : `${days} days ago`;
}

export const plural = (n, one, many = `${one}s`) => `${n.toLocaleString()} ${n === 1 ? one : many}`;

// The identity rule that placed a call, as a badge: null when there is nothing to say
// (the same CRM record as before).
export function resolutionBadge(resolution) {
  if (!resolution) return null;
  const merged = resolution.merged || [];
  if (merged.length) {
    return { kind: "merge", text: `merged ${merged.length + 1} into 1 (by ${words(merged[0].rule)})` };
  }
  switch (resolution.rule) {
    case "new":
      return { kind: "new", text: "new person" };
    case "salesforce_id":
      return null;
    case "unidentified":
      return { kind: "warn", text: "no identifier" };
    case "unattributed_phone":
      return { kind: "warn", text: "shared line" };
    case "lead_conversion":
      return { kind: "link", text: "linked: converted lead" };
    default:
      return { kind: "link", text: `linked by ${words(resolution.rule)}` };
  }
}
