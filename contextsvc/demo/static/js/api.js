// The service's public API as the page uses it. Keys live in this tab's session storage
// and travel only in the Authorization header: never in a URL, which servers and proxies log.

const STORE = "contextsvc.demo.keys";

export const keys = {
  load() {
    // make run prints /demo/#key=…&masked=…: the fragment never leaves the browser.
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (fragment.get("key")) {
      this.save(fragment.get("key"), fragment.get("masked") || "");
      history.replaceState(null, "", location.pathname + location.search);
    }
    try {
      return JSON.parse(sessionStorage.getItem(STORE)) || { main: "", masked: "" };
    } catch {
      return { main: "", masked: "" };
    }
  },
  save(main, masked) {
    sessionStorage.setItem(STORE, JSON.stringify({ main, masked }));
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function send(key, path, init = {}) {
  const headers = { Authorization: `Bearer ${key}`, Accept: "application/json", ...(init.headers || {}) };
  const response = await fetch(path, { ...init, headers });
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { message: text };
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export const api = {
  get: (key, path, params = {}) => {
    const query = new URLSearchParams(params).toString();
    return send(key, query ? `${path}?${query}` : path);
  },
  post: (key, path, body) =>
    send(key, path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }),
};

// One MCP tool call (JSON-RPC over the service's stateless streamable-HTTP endpoint): the
// same tool, with the same logic, an MCP client such as Claude or an agent framework uses.
let rpcId = 0;
export async function mcpTool(key, name, args) {
  const answer = await send(key, "/mcp", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method: "tools/call", params: { name, arguments: args } }),
  });
  if (answer.error) throw new ApiError(200, { message: answer.error.message });
  const result = answer.result;
  if (result.isError) throw new ApiError(200, { message: result.content.map((c) => c.text).join(" ") });
  const content = result.structuredContent;
  return content && "result" in content ? content.result : content;
}

// Server-sent events from GET /v1/events/stream, read with fetch so the key can go in a
// header (EventSource cannot send one). Reconnects with Last-Event-ID, so nothing recent
// is missed across a dropped connection.
export function subscribe(key, onEvent, onStatus) {
  let lastId = null;
  let stopped = false;
  const controller = new AbortController();

  async function connect() {
    const headers = { Authorization: `Bearer ${key}`, Accept: "text/event-stream" };
    if (lastId) headers["Last-Event-ID"] = lastId;
    const response = await fetch("/v1/events/stream", { headers, signal: controller.signal });
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
    onStatus("live");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = {};
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, "");
        buffer = buffer.slice(newline + 1);
        if (line === "") {
          if (event.data !== undefined) {
            if (event.id) lastId = event.id;
            onEvent(event.event || "message", JSON.parse(event.data));
          }
          event = {};
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          event[field] = field === "data" && event.data !== undefined ? `${event.data}\n${text}` : text;
        }
      }
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await connect();
        if (!stopped) onStatus("reconnecting");
      } catch (error) {
        if (stopped) return;
        onStatus(error instanceof ApiError && error.status < 500 ? "refused" : "reconnecting", error);
        if (error instanceof ApiError && error.status < 500) return; // a bad key: retrying will not help
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();

  return () => {
    stopped = true;
    controller.abort();
  };
}
