// One JavaScript run of the side-by-side comparison: the official
// ConvexClient (npm convex, pinned in package-lock.json) under Node with
// ws, against the deployment at CONVEX_URL. It measures what the Go side
// measures (see main.go) and prints one JSON line with the raw figures.
// Run it with --expose-gc so that the memory figure is taken after a full
// collection; the result says whether it was.
//
// Configuration comes from the environment:
//   CONVEX_URL    the deployment URL (http://127.0.0.1:port)
//   RUN           a prefix for counter and channel names, unique per run
//   S             subscribers for fan-out, memory and duplicate subscribe
//   ROUNDS        timed mutations per fan-out figure
//   DUP_OPS       duplicate subscribe + close operations per figure
//   LIST_MSGS     messages in the chat list before its timed sends
//   BODY_BYTES    body length of each message
//   LIST_ROUNDS   timed sends on the chat list
//   FRESH_ROUNDS  timed fresh-channel round trips
import { ConvexClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import WebSocket from "ws";

const env = process.env;
const url = env.CONVEX_URL;
const run = env.RUN;
const S = Number(env.S);
const ROUNDS = Number(env.ROUNDS);
const DUP_OPS = Number(env.DUP_OPS);
const LIST_MSGS = Number(env.LIST_MSGS);
const BODY = "x".repeat(Number(env.BODY_BYTES));
const LIST_ROUNDS = Number(env.LIST_ROUNDS);
const FRESH_ROUNDS = Number(env.FRESH_ROUNDS);
const TIMEOUT_MS = 120000;

const getRef = makeFunctionReference("counter:get");
const incRef = makeFunctionReference("counter:increment");
const listRef = makeFunctionReference("messages:list");
const sendRef = makeFunctionReference("messages:send");

const now = () => process.hrtime.bigint();
const ns = (t0) => Number(now() - t0);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function heapUsed() {
  if (global.gc) {
    global.gc();
    global.gc();
  }
  return process.memoryUsage().heapUsed;
}

// waiter returns a promise that settles when resolve is called, or
// rejects after TIMEOUT_MS with what.
function waiter(what) {
  let resolve;
  let timer;
  const p = new Promise((res, rej) => {
    resolve = res;
    timer = setTimeout(() => rej(new Error(`timed out: ${what}`)), TIMEOUT_MS);
  });
  return { p, resolve: (v) => { clearTimeout(timer); resolve(v); } };
}

// fanOut subscribes n onUpdate callbacks to counter name, waits for all
// their first values, then times `rounds` mutations each until every
// callback has been called with the new value. It returns the median
// time, the memory before and after subscribing, and the unsubscribes.
async function fanOut(client, name, n, rounds) {
  const args = { name };
  let want = -1;
  let left = n;
  let w = waiter(`first values of ${name}`);
  const before = heapUsed();
  const unsubs = [];
  for (let i = 0; i < n; i++) {
    let first = true;
    unsubs.push(client.onUpdate(getRef, args, (v) => {
      if (first) {
        first = false;
        if (--left === 0) w.resolve();
        return;
      }
      if (v === want && --left === 0) w.resolve();
    }, (e) => { throw e; }));
  }
  await w.p;
  const after = heapUsed();
  // Round 0 is an untimed warm-up, as on the Go side.
  const times = [];
  for (let r = 0; r <= rounds; r++) {
    w = waiter(`round ${r} of ${name}`);
    want = r + 1;
    left = n;
    const t0 = now();
    const got = await client.mutation(incRef, args);
    if (got !== want) throw new Error(`mutation returned ${got}, want ${want}`);
    await w.p;
    if (r > 0) times.push(ns(t0));
  }
  return { median: median(times), memDelta: after - before, unsubs };
}

// dupSubscribe times ops subscribe + current value + unsubscribe on the
// live query name: the value is read with getCurrentValue (the cached
// result, as Go's Next returns it), not by waiting for the callback,
// which ConvexClient delivers on a setTimeout for an already-live query.
function dupSubscribe(client, name, ops) {
  const args = { name };
  const t0 = now();
  for (let i = 0; i < ops; i++) {
    const unsub = client.onUpdate(getRef, args, () => {});
    if (unsub.getCurrentValue() === undefined) throw new Error("duplicate subscribe has no current value");
    unsub();
  }
  return ns(t0) / ops;
}

// listWatcher subscribes to a channel and lets the caller wait until the
// list's last message has a given id.
function listWatcher(client, channel) {
  let latest;
  let pending;
  let first = waiter(`first list of ${channel}`);
  const lastID = () => (latest && latest.length ? latest[latest.length - 1]._id : undefined);
  const unsub = client.onUpdate(listRef, { channel }, (v) => {
    latest = v;
    if (first) {
      const f = first;
      first = null;
      f.resolve();
    }
    if (pending && lastID() === pending.id) {
      const p = pending;
      pending = null;
      p.w.resolve();
    }
  }, (e) => { throw e; });
  return {
    ready: () => first.p,
    async shows(id) {
      if (lastID() === id) return;
      pending = { id, w: waiter(`message ${id} on ${channel}`) };
      await pending.w.p;
    },
    size: () => (latest ? latest.length : 0),
    unsub,
  };
}

async function sendAndSee(client, watch, channel) {
  const id = await client.mutation(sendRef, { channel, author: "bench", body: BODY });
  await watch.shows(id);
}

async function main() {
  const client = new ConvexClient(url, {
    webSocketConstructor: WebSocket,
    skipConvexDeploymentUrlCheck: true,
    logger: false,
    unsavedChangesWarning: false,
  });
  const out = { gc: typeof global.gc === "function" };

  // Figures 1, 2 and 5: fan-out to S callbacks, its 1-callback baseline,
  // and the memory the S subscriptions hold.
  const base = await fanOut(client, `${run}-base`, 1, ROUNDS);
  const fan = await fanOut(client, `${run}-fan`, S, ROUNDS);
  out.base_ns = base.median;
  out.all_ns = fan.median;
  out.mem_per_sub = fan.memDelta / S;

  // Figure 3: duplicate subscribe on a query with 1 and with S live
  // subscribers.
  out.dup1_ns = dupSubscribe(client, `${run}-base`, DUP_OPS);
  out.dupS_ns = dupSubscribe(client, `${run}-fan`, DUP_OPS);
  for (const u of [...base.unsubs, ...fan.unsubs]) u();

  // Figure 4: send on a chat list of LIST_MSGS messages until our own
  // subscription shows it.
  const chat = `${run}-chat`;
  for (let i = 0; i < LIST_MSGS; i++) {
    await client.mutation(sendRef, { channel: chat, author: "bench", body: BODY });
  }
  const watch = listWatcher(client, chat);
  await watch.ready();
  if (watch.size() !== LIST_MSGS) throw new Error(`chat list has ${watch.size()} messages, want ${LIST_MSGS}`);
  const listTimes = [];
  for (let r = 0; r < LIST_ROUNDS; r++) {
    const t0 = now();
    await sendAndSee(client, watch, chat);
    listTimes.push(ns(t0));
  }
  watch.unsub();
  out.list_ns = median(listTimes);

  // Figure 6: subscribe to a new channel, send on it, until the
  // subscription shows the message.
  const freshTimes = [];
  for (let r = 0; r < FRESH_ROUNDS; r++) {
    const channel = `${run}-fresh-${r}`;
    const t0 = now();
    const w = listWatcher(client, channel);
    await w.ready();
    await sendAndSee(client, w, channel);
    freshTimes.push(ns(t0));
    w.unsub();
  }
  out.fresh_ns = median(freshTimes);

  await client.close();
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
    process.exit(1);
  },
);
