// The 90-day chart: calls per day as light bars, conversations as dark bars in front of
// them (a conversation is also a call). Plain SVG, drawn here; no charting library.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 1000;
const HEIGHT = 240;
const PAD = { left: 44, right: 12, top: 14, bottom: 34 };

function node(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  if (text !== undefined) el.textContent = text;
  return el;
}

export function drawChart(figure, days) {
  const calls = days.reduce((sum, d) => sum + d.calls, 0);
  const connects = days.reduce((sum, d) => sum + d.connects, 0);
  const top = Math.max(2, ...days.map((d) => d.calls));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / days.length;
  const y = (n) => PAD.top + plotH - (n / top) * plotH;
  const summary = `${calls} calls and ${connects} conversations from ${days[0].day} to ${days[days.length - 1].day}; busiest day ${top} calls.`;

  const svg = node("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": summary });
  for (const tick of [0, Math.round(top / 2), top]) {
    svg.append(node("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(tick), y2: y(tick), class: "grid" }));
    svg.append(node("text", { x: PAD.left - 8, y: y(tick) + 6, "text-anchor": "end", class: "axis" }, tick));
  }
  days.forEach((d, i) => {
    const x = PAD.left + i * slot + slot * 0.12;
    const w = slot * 0.76;
    const group = node("g");
    group.append(node("title", {}, `${d.day}: ${d.calls} calls, ${d.connects} conversations`));
    if (d.calls) group.append(node("rect", { x, width: w, y: y(d.calls), height: y(0) - y(d.calls), class: "bar-calls" }));
    if (d.connects) group.append(node("rect", { x, width: w, y: y(d.connects), height: y(0) - y(d.connects), class: "bar-connects" }));
    svg.append(group);
    const date = d.day.slice(8, 10);
    const last = i === days.length - 1;
    if ((date === "01" && days.length - 1 - i >= 6) || last) { // a month label too near "today" would overlap it
      const label = last ? "today" : new Date(`${d.day}T00:00:00Z`).toLocaleDateString([], { month: "short", timeZone: "UTC" });
      svg.append(node("line", { x1: x + w / 2, x2: x + w / 2, y1: y(0), y2: y(0) + 6, class: "grid" }));
      svg.append(node("text", { x: x + w / 2, y: HEIGHT - 8, "text-anchor": last ? "end" : "middle", class: "axis" }, label));
    }
  });
  svg.append(node("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(0), y2: y(0), class: "baseline" }));

  const legend = document.createElement("figcaption");
  const key = (cls, text) => {
    const item = document.createElement("span");
    item.className = `legend ${cls}`;
    item.textContent = text;
    return item;
  };
  legend.append(key("calls", `Calls (${calls})`), key("connects", `Conversations (${connects})`));
  figure.replaceChildren(svg, legend);
}
