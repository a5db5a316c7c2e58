// A real Better Auth server for convex-go's tests, with the Convex plugin of
// @convex-dev/better-auth configured as a Convex app configures it
// (getAuthConfigProvider: customJwt, RS256, issuer CONVEX_SITE_URL, audience
// "convex"), email+password sign-up and sign-in, and an in-memory database.
//
// It listens on 127.0.0.1 on a free port, then prints one JSON line
// {"ready":true,"url":...} on stdout. Everything else goes to stderr.
//
// Environment:
//   BA_SECURE_COOKIES=1  use the __Secure- cookie names (useSecureCookies).
//
// Test-only routes (never part of a real deployment):
//   GET /test/requests?path=P  {"count":N,"cookies":[names],"authorization":bool}
//        for the requests to P so far: how many, and the cookie names and
//        whether an Authorization header came with the last one.
//   GET /test/latest-jwks      the rows the Convex plugin's getLatestJwks
//        returns (a server-only endpoint): [{id, publicKey, privateKey, ...}].
import http from "node:http";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { convex } from "@convex-dev/better-auth/plugins";
import { getAuthConfigProvider } from "@convex-dev/better-auth/auth-config";

const requests = new Map(); // path -> {count, cookies, authorization}

function cookieNames(header) {
  if (!header) return [];
  return header
    .split(";")
    .map((p) => p.trim().split("=")[0])
    .filter(Boolean);
}

const server = http.createServer();
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  const site = `http://127.0.0.1:${port}`;
  // The Convex plugin and getAuthConfigProvider read the issuer from
  // CONVEX_SITE_URL when they are called, so it is set before either is.
  process.env.CONVEX_SITE_URL = site;

  const db = { user: [], session: [], account: [], verification: [], jwks: [] };
  const memory = memoryAdapter(db);
  // In a Convex HTTP action (where /api/auth runs) the Convex adapter says
  // isRunMutationCtx: true; the Convex plugin turns every write into a
  // no-op when it is not set. The memory adapter does not set it, so it is
  // set here, as the Convex adapter would.
  const database = (options) => {
    const adapter = memory(options);
    adapter.options = { ...adapter.options, isRunMutationCtx: true };
    return adapter;
  };
  const authConfig = { providers: [getAuthConfigProvider()] };
  const auth = betterAuth({
    baseURL: site,
    basePath: "/api/auth",
    secret: "convexgo-test-secret-not-for-production-0123456789",
    database,
    emailAndPassword: { enabled: true },
    advanced: {
      ...(process.env.BA_SECURE_COOKIES === "1" ? { useSecureCookies: true } : {}),
    },
    telemetry: { enabled: false },
    logger: { disabled: true },
    plugins: [convex({ authConfig })],
  });
  const authHandler = toNodeHandler(auth);

  server.on("request", async (req, res) => {
    const url = new URL(req.url, site);
    if (url.pathname === "/test/requests") {
      const r = requests.get(url.searchParams.get("path") ?? "") ?? {
        count: 0,
        cookies: [],
        authorization: false,
      };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(r));
      return;
    }
    if (url.pathname === "/test/latest-jwks") {
      try {
        const rows = await auth.api.getLatestJwks();
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(rows));
      } catch (err) {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(String(err?.stack ?? err));
      }
      return;
    }
    const prev = requests.get(url.pathname);
    requests.set(url.pathname, {
      count: (prev?.count ?? 0) + 1,
      cookies: cookieNames(req.headers.cookie),
      authorization: req.headers.authorization !== undefined,
    });
    try {
      await authHandler(req, res);
    } catch (err) {
      process.stderr.write(`handler error: ${err?.stack ?? err}\n`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    }
  });

  process.stdout.write(JSON.stringify({ ready: true, url: site }) + "\n");
});

server.on("error", (err) => {
  process.stderr.write(`server error: ${err?.stack ?? err}\n`);
  process.exit(1);
});
