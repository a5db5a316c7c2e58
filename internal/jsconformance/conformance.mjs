// Drives the official Convex JavaScript client against a deployment and
// prints one JSON line per check: {"check": name, "ok": bool, "detail": ...}.
//
// Configuration comes from the environment:
//   CONVEX_URL   the deployment URL (http://127.0.0.1:port)
//   GOOD_TOKEN   an RS256 JWT the deployment accepts
//   GOOD_SUB     that token's subject
//   BAD_TOKEN    a JWT signed by a key the deployment does not know
//   DROP_URL     POSTing here drops every socket of the deployment
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { ConvexError } from "convex/values";
import { makeFunctionReference } from "convex/server";
import WebSocket from "ws";

const url = process.env.CONVEX_URL;
const ref = (name) => makeFunctionReference(name);
const listRef = ref("messages:list");
const sendRef = ref("messages:send");
const echoRef = ref("echo:run");
const whoamiRef = ref("auth:whoami");
const throwRef = ref("errors:throw");
const getRef = ref("counter:get");
const incRef = ref("counter:increment");

const quiet = { log() {}, warn() {}, error() {}, logVerbose() {} };
function newClient() {
  return new ConvexClient(url, {
    webSocketConstructor: WebSocket,
    skipConvexDeploymentUrlCheck: true,
    logger: false,
    unsavedChangesWarning: false,
  });
}

let failures = 0;
function report(check, ok, detail) {
  if (!ok) failures++;
  process.stdout.write(JSON.stringify({ check, ok, detail: detail ?? null }, replacer) + "\n");
}
function replacer(_k, v) {
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof ArrayBuffer) return `bytes(${[...new Uint8Array(v)].join(",")})`;
  return v;
}

// waitFor resolves with the first value of a subscription that satisfies
// pred, or rejects after ms.
function waitFor(client, query, args, pred, ms = 10000) {
  return new Promise((resolve, reject) => {
    let unsub = () => {};
    const timer = setTimeout(() => {
      unsub();
      reject(new Error(`timed out waiting on ${JSON.stringify(args)}`));
    }, ms);
    unsub = client.onUpdate(query, args, (v) => {
      if (pred(v)) {
        clearTimeout(timer);
        queueMicrotask(() => unsub());
        resolve(v);
      }
    }, (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function check(name, fn) {
  try {
    const detail = await fn();
    report(name, true, detail);
  } catch (e) {
    report(name, false, String(e && e.stack ? e.stack : e));
  }
}

function sameBytes(a, b) {
  if (!(a instanceof ArrayBuffer) || !(b instanceof ArrayBuffer) || a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a), y = new Uint8Array(b);
  return x.every((v, i) => v === y[i]);
}

function deepEqual(a, b) {
  if (typeof a === "number" && typeof b === "number") return Object.is(a, b);
  if (typeof a === "bigint" || typeof b === "bigint") return typeof a === typeof b && a === b;
  if (a instanceof ArrayBuffer || b instanceof ArrayBuffer) return sameBytes(a, b);
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (a && typeof a === "object") {
    if (!b || typeof b !== "object" || Array.isArray(b)) return false;
    const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
    return deepEqual(ka, kb) && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return a === b;
}

const channel = `js-${Date.now()}`;
const a = newClient();
const b = newClient();

await check("initial value then another client's update", async () => {
  const initial = await waitFor(a, listRef, { channel }, () => true);
  if (!Array.isArray(initial) || initial.length !== 0) throw new Error(`initial ${JSON.stringify(initial)}`);
  const seen = waitFor(a, listRef, { channel }, (v) => v.length === 1);
  await b.mutation(sendRef, { channel, author: "bob", body: "hello" });
  const v = await seen;
  if (v[0].body !== "hello" || v[0].author !== "bob" || typeof v[0]._id !== "string" || typeof v[0]._creationTime !== "number") {
    throw new Error(`got ${JSON.stringify(v)}`);
  }
  return v[0];
});

await check("two identical subscriptions see equal values", async () => {
  const got = await Promise.all([
    waitFor(a, listRef, { channel }, (v) => v.length === 1),
    waitFor(a, listRef, { channel }, (v) => v.length === 1),
  ]);
  if (!deepEqual(got[0], got[1])) throw new Error(`${JSON.stringify(got[0])} != ${JSON.stringify(got[1])}`);
  return got[0].length;
});

await check("mutation resolves only after the subscription reflects it", async () => {
  const name = `c-${channel}`;
  let latest = null;
  const unsub = a.onUpdate(getRef, { name }, (v) => { latest = v; });
  await waitFor(a, getRef, { name }, (v) => v === 0);
  const results = [];
  for (let i = 1; i <= 5; i++) {
    const r = await a.mutation(incRef, { name, by: 1 });
    results.push([r, latest]);
    if (latest !== r) { unsub(); throw new Error(`mutation returned ${r} while the subscription showed ${latest}`); }
  }
  unsub();
  return results;
});

await check("echo round-trips int64, bytes, special floats and nested values", async () => {
  const bytes = new Uint8Array([0, 1, 2, 250, 255]).buffer;
  const args = {
    i: 1n, neg: -1n, max: 2n ** 63n - 1n, min: -(2n ** 63n),
    bytes, empty: new ArrayBuffer(0),
    nan: NaN, inf: Infinity, ninf: -Infinity, nzero: -0, half: 1.5, big: 2 ** 53,
    nested: { list: [1n, "two", null, true, { deep: [bytes, -0] }], s: "héllo 😀" },
  };
  const back = await a.action(echoRef, args);
  if (!deepEqual(args, back)) throw new Error(`sent ${JSON.stringify(args, replacer)} got ${JSON.stringify(back, replacer)}`);
  return back;
});

await check("a bigint where v.number() is declared fails argument validation", async () => {
  try {
    await a.mutation(incRef, { name: `v-${channel}`, by: 1n });
  } catch (e) {
    const want = /^\[CONVEX M\(counter:increment\)\] \[Request ID: [0-9a-f]{16}\] Server Error\nArgumentValidationError: Value does not match validator\.\nPath: \.by\nValue: 1\nValidator: v\.float64\(\)\n/;
    if (want.test(e.message)) return e.message;
    throw new Error(`wrong error: ${JSON.stringify(e.message)}`);
  }
  throw new Error("mutation did not fail");
});

await check("ConvexError data reaches the client", async () => {
  try {
    await a.query(throwRef, {});
  } catch (e) {
    if (e instanceof ConvexError && deepEqual(e.data, { code: "boom" })) return e.data;
    throw new Error(`wrong error: ${e}`);
  }
  throw new Error("query did not throw");
});

await check("ConvexHttpClient one-shot queries", async () => {
  const http = new ConvexHttpClient(url, { skipConvexDeploymentUrlCheck: true, logger: false });
  const v = await http.query(listRef, { channel });
  if (!Array.isArray(v) || v.length !== 1 || v[0].body !== "hello") throw new Error(`got ${JSON.stringify(v)}`);
  const n = await http.query(getRef, { name: `c-${channel}` });
  if (n !== 5) throw new Error(`counter ${n}`);
  try {
    await http.query(throwRef, {});
    throw new Error("did not throw");
  } catch (e) {
    if (!(e instanceof ConvexError) || !deepEqual(e.data, { code: "boom" })) throw e;
  }
  http.setAuth(process.env.GOOD_TOKEN);
  const who = await http.query(whoamiRef, {});
  if (who !== process.env.GOOD_SUB) throw new Error(`whoami over HTTP: ${who}`);
  return { list: v.length, counter: n, whoami: who };
});

await check("setAuth with a valid RS256 token", async () => {
  const c = newClient();
  try {
    const changes = [];
    c.setAuth(async () => process.env.GOOD_TOKEN, (ok) => changes.push(ok));
    const who = await waitFor(c, whoamiRef, {}, (v) => v === process.env.GOOD_SUB);
    return { who, changes };
  } finally {
    await c.close();
  }
});

await check("a token signed by another key is rejected", async () => {
  const c = newClient();
  try {
    const authed = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve("no callback"), 10000);
      c.setAuth(async () => process.env.BAD_TOKEN, (ok) => { clearTimeout(timer); resolve(ok); });
    });
    if (authed !== false) throw new Error(`onChange reported ${authed}`);
    const who = await waitFor(c, whoamiRef, {}, () => true);
    if (who !== null) throw new Error(`whoami = ${who}`);
    return { authed, who };
  } finally {
    await c.close();
  }
});

await check("after a forced drop the subscription resumes and keeps updating", async () => {
  const dropChannel = `${channel}-drop`;
  await waitFor(a, listRef, { channel: dropChannel }, (v) => v.length === 0);
  const res = await fetch(process.env.DROP_URL, { method: "POST" });
  if (!res.ok) throw new Error(`drop: HTTP ${res.status}`);
  const seen = waitFor(a, listRef, { channel: dropChannel }, (v) => v.length === 2, 20000);
  await b.mutation(sendRef, { channel: dropChannel, author: "bob", body: "one" });
  await b.mutation(sendRef, { channel: dropChannel, author: "bob", body: "two" });
  const v = await seen;
  return v.map((m) => m.body);
});

await a.close();
await b.close();
process.stdout.write(JSON.stringify({ done: true, failures }) + "\n");
process.exit(failures === 0 ? 0 : 1);
