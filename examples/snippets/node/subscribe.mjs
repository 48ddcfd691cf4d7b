#!/usr/bin/env node
// subscribe.mjs: a waitbus subscriber in plain Node.js (stdlib `net` only), speaking the
// v1 wire protocol directly (docs/wire.md). Prints each event as one JSON line on stdout.
//
//   node subscribe.mjs                          # every event, live
//   node subscribe.mjs --source pytest          # only pytest events (filtered by the hub)
//   node subscribe.mjs --match 'fields.outcome="failed"' --since 01JD5Z8Q4W6E7R8T9Y0A1B2C3D
//   node subscribe.mjs --source agent --count 1 # exit 0 after one event
//
// --source and --match (repeatable, `dotted.key=<json>`) go into one `where` predicate,
// evaluated by the hub. Exit: 0 after --count events, 1 when the hub closes the
// connection, rejects us or goes silent, 2 on bad arguments or no hub.
import net from "node:net";
import os from "node:os";
import fs from "node:fs";
import path from "node:path";

const MAX_FRAME = 65536;

function usage(message) {
  process.stderr.write(`subscribe.mjs: ${message}\n`);
  process.exit(2);
}

// Parse the command line.
const specs = [];
let since = null;
let count = Infinity;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const flag = argv[i];
  const value = argv[i + 1];
  if (value === undefined) usage(`${flag} needs a value`);
  if (flag === "--source") specs.push(`source=${JSON.stringify(value)}`);
  else if (flag === "--match") specs.push(value);
  else if (flag === "--since") since = value;
  else if (flag === "--count") count = Number.parseInt(value, 10);
  else usage(`unknown argument ${flag}`);
  i++;
}
if (!(count > 0)) usage("--count must be a positive integer");

// The socket path, resolved as the hub does (docs/wire.md section 1).
function runtimeDir() {
  if (process.env.WAITBUS_RUNTIME_DIR) return process.env.WAITBUS_RUNTIME_DIR;
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (process.platform === "linux" && xdg && fs.statSync(xdg, { throwIfNoEntry: false })?.isDirectory()) {
    return path.join(xdg, "waitbus");
  }
  return path.join(os.tmpdir(), `waitbus-${process.getuid()}`);
}

// One frame: a 4-byte big-endian length, then that many bytes of UTF-8 JSON.
function encodeFrame(object) {
  const body = Buffer.from(JSON.stringify(object), "utf8");
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

const subscribe = { proto: 1, filters: ["*"] };
if (specs.length) subscribe.where = [specs]; // one predicate: its specs AND together
if (since) subscribe.since = since;

const sockPath = path.join(runtimeDir(), "broadcast.sock");
const sock = net.createConnection(sockPath);
let buffered = Buffer.alloc(0);
let printed = 0;
let silenceTimer = null;
let finished = false;

function finish(code, message) {
  if (finished) return;
  finished = true;
  if (message) process.stderr.write(`subscribe.mjs: ${message}\n`);
  clearTimeout(silenceTimer);
  sock.destroy();
  process.exitCode = code;
}

// The hub sends a heartbeat every heartbeat_sec; silence for 2.5 of them means it is gone.
function armSilenceTimer(heartbeatSec) {
  clearTimeout(silenceTimer);
  silenceTimer = setTimeout(() => finish(1, "the hub went silent"), heartbeatSec * 2500);
  silenceTimer.unref();
}
let heartbeatSec = 60;

sock.on("connect", () => sock.write(encodeFrame(subscribe)));
sock.on("error", (err) => finish(2, `cannot reach the hub at ${sockPath}: ${err.code || err.message}`));
sock.on("end", () => finish(1, "the hub closed the connection"));
sock.on("data", (chunk) => {
  buffered = Buffer.concat([buffered, chunk]);
  while (buffered.length >= 4) {
    const n = buffered.readUInt32BE(0);
    if (n === 0 || n > MAX_FRAME) return finish(1, `bad frame length ${n}`);
    if (buffered.length < 4 + n) break; // wait for the rest of the frame
    const text = buffered.subarray(4, 4 + n).toString("utf8");
    buffered = buffered.subarray(4 + n);
    const frame = JSON.parse(text);
    armSilenceTimer(heartbeatSec);
    if (frame.kind === "subscribe_ack") {
      heartbeatSec = frame.heartbeat_sec;
      armSilenceTimer(heartbeatSec);
      process.stderr.write(`subscribed (caught_up_at ${frame.caught_up_at})\n`);
    } else if (frame.kind === "event" || frame.kind === "truncated") {
      // Print the frame's own text: received_at (nanoseconds) exceeds JavaScript's exact
      // integer range, so a JSON.parse/stringify round trip would round it.
      process.stdout.write(`${text}\n`);
      if (++printed >= count) return finish(0);
    } else if (frame.kind === "subscribe_rejected") {
      return finish(1, `rejected: ${frame.reason} (${frame.remediation || "no remediation"})`);
    } // daemon_heartbeat and any kind we do not know: ignored, as v1 requires
  }
});
