// Start the Portkey AI gateway (npm @portkey-ai/gateway) listening on 127.0.0.1 only.
//
//   node scripts/live/portkey_serve.mjs PORTKEY_DIR --port=N
//
// The gateway's own start script (build/start-server.js) has no host option: it calls
// serve({fetch: app.fetch, port}) from @hono/node-server, which then listens on every interface. The app is
// not exported from that bundle, so we serve it by wrapping the one function it calls: a module-resolution
// hook hands the bundle a copy of @hono/node-server whose serve() always passes hostname "127.0.0.1".
// Nothing in node_modules is changed. Used by scripts/live/run_live.py (see docs/live.md).
import { register } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const HOST = "127.0.0.1";
const [dir, ...rest] = process.argv.slice(2);
if (!dir || !rest.some((a) => a.startsWith("--port="))) {
  console.error("usage: node portkey_serve.mjs PORTKEY_DIR --port=N");
  process.exit(2);
}
const bundle = path.resolve(dir, "node_modules/@portkey-ai/gateway/build/start-server.js");

// The hooks run in their own thread; they are passed as source so this file stays self-contained.
const hooks = `
const MARK = "?relaycheck-loopback";
export async function resolve(specifier, context, next) {
  if (specifier === "@hono/node-server") {
    const real = await next(specifier, context);
    return { ...real, url: real.url + MARK, shortCircuit: true };
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (url.endsWith(MARK)) {
    const real = JSON.stringify(url.slice(0, -MARK.length));
    const source = "import * as real from " + real + ";\\n" +
      "export * from " + real + ";\\n" +
      "export function serve(options, listener) {\\n" +
      "  return real.serve({ ...options, hostname: '${HOST}' }, listener);\\n" +
      "}\\n";
    return { format: "module", source, shortCircuit: true };
  }
  return next(url, context);
}
`;
register("data:text/javascript," + encodeURIComponent(hooks), import.meta.url);

// The bundle reads its options from process.argv (--port=N, --headless).
process.argv = [process.argv[0], bundle, ...rest, "--headless"];
await import(pathToFileURL(bundle).href);
