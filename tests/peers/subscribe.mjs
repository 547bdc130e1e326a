// Subscribes to the server with a real client and prints what arrived as one JSON line.
//
// Usage: node subscribe.mjs '<config JSON>' where config is
//   { url, token, query, variables, count, timeoutMs,
//     client: "graphql-ws" (the npm graphql-ws client, protocol graphql-transport-ws, the default)
//           | "subscriptions-transport-ws" (the legacy protocol's own client)
//           | "raw" (a bare socket: sends `messages` under `protocol`, reports every frame and the close),
//     killAfter: kill the socket (TCP, no close frame) after this many results, then resume with
//                `after` = the last event id received,
//     resumeDelayMs, connectionParams (instead of token), protocol, messages }
// Output: { results: [...], resumedAfter, closes: [{code, reason}], errors: [...], frames: [...] }
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { SubscriptionClient } from "subscriptions-transport-ws";

const config = JSON.parse(process.argv[2]);
const out = { results: [], closes: [], errors: [], frames: [], resumedAfter: null };
const timeoutMs = config.timeoutMs ?? 20000;
const params = config.connectionParams ?? (config.token ? { Authorization: `Bearer ${config.token}` } : {});

function done() {
  console.log(JSON.stringify(out));
  process.exit(0);
}
setTimeout(() => {
  out.errors.push("timeout");
  done();
}, timeoutMs);

function lastEventId() {
  const last = out.results[out.results.length - 1];
  const payload = last?.data ? Object.values(last.data)[0] : null;
  return payload?.id ?? null;
}

async function graphqlWs() {
  let socket = null;
  let killed = false;
  const client = createClient({
    url: config.url,
    webSocketImpl: WebSocket,
    connectionParams: params,
    retryAttempts: 0,
    lazy: true,
    on: {
      connected: (s) => {
        socket = s;
      },
      closed: (event) => {
        if (!killed) out.closes.push({ code: event.code, reason: String(event.reason ?? "") });
      },
    },
  });
  const run = (variables, limit) =>
    new Promise((resolve) => {
      let seen = 0;
      const unsubscribe = client.subscribe(
        { query: config.query, variables },
        {
          next: (result) => {
            out.results.push(result);
            seen += 1;
            if (result.errors) out.errors.push(...result.errors.map((e) => e.message));
            if (limit !== null && seen >= limit) resolve("limit");
          },
          error: (err) => {
            // The socket this script killed on purpose reports its own end; that is not an error.
            if (!killed) {
              out.errors.push(err?.message ?? (err?.code ? `closed ${err.code} ${err.reason}` : String(err)));
            }
            resolve("error");
          },
          complete: () => resolve("complete"),
        },
      );
      run.unsubscribe = unsubscribe;
    });
  const total = config.count ?? 1;
  if (config.killAfter) {
    await run(config.variables, config.killAfter);
    // A real crash: the TCP connection goes away without a close frame.
    killed = true;
    socket?.terminate();
    await new Promise((r) => setTimeout(r, config.resumeDelayMs ?? 500));
    // Whatever the killed socket delivered before it died counts; resume after the last of it.
    out.resumedAfter = lastEventId();
    const resumed = createClient({
      url: config.url,
      webSocketImpl: WebSocket,
      connectionParams: params,
      retryAttempts: 0,
      lazy: true,
    });
    await new Promise((resolve) => {
      resumed.subscribe(
        { query: config.query, variables: { ...config.variables, after: out.resumedAfter } },
        {
          next: (result) => {
            out.results.push(result);
            if (result.errors) out.errors.push(...result.errors.map((e) => e.message));
            if (out.results.length >= total) resolve();
          },
          error: (err) => {
            out.errors.push(err?.message ?? String(err));
            resolve();
          },
          complete: () => resolve(),
        },
      );
    });
  } else {
    await run(config.variables, total);
  }
  done();
}

async function legacy() {
  const client = new SubscriptionClient(
    config.url,
    { connectionParams: params, reconnect: false, lazy: false },
    WebSocket,
  );
  client.onError((err) => out.errors.push(err?.message ?? String(err)));
  await new Promise((resolve) => {
    client.request({ query: config.query, variables: config.variables }).subscribe({
      next: (result) => {
        out.results.push(result);
        if (out.results.length >= (config.count ?? 1)) resolve();
      },
      error: (err) => {
        out.errors.push(Array.isArray(err) ? err.map((e) => e.message).join("; ") : err?.message ?? String(err));
        resolve();
      },
      complete: () => resolve(),
    });
  });
  client.close();
  done();
}

function raw() {
  const ws = new WebSocket(config.url, config.protocol ?? "graphql-transport-ws");
  ws.on("open", () => {
    for (const message of config.messages ?? []) {
      ws.send(typeof message === "string" ? message : JSON.stringify(message));
    }
  });
  ws.on("message", (data) => out.frames.push(JSON.parse(data.toString())));
  ws.on("unexpected-response", (_req, res) => {
    out.closes.push({ code: res.statusCode, reason: "http" });
    done();
  });
  ws.on("close", (code, reason) => {
    out.closes.push({ code, reason: reason.toString() });
    done();
  });
  ws.on("error", (err) => out.errors.push(err.message));
}

switch (config.client ?? "graphql-ws") {
  case "graphql-ws":
    await graphqlWs();
    break;
  case "subscriptions-transport-ws":
    await legacy();
    break;
  case "raw":
    raw();
    break;
  default:
    throw new Error(`unknown client ${config.client}`);
}
