// The device as sent: normalized the same way on both paths, bounded, and
// the client address behind trusted proxies only.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ClientAddress, MAX_USER_AGENT, normalizeDevice, normalizeIp, normalizeUserAgent } from "../src/index.js";
import { deviceHeaders } from "../src/device.js";

test("user agents: visible ASCII, bounded", () => {
  assert.equal(normalizeUserAgent("Mozilla/5.0 (X11)"), "Mozilla/5.0 (X11)");
  assert.equal(normalizeUserAgent("caf\u00e9\u20ac\n"), "caf???");
  assert.equal(normalizeUserAgent("x".repeat(5000)).length, MAX_USER_AGENT);
});

test("addresses: mapped IPv4, zones, brackets, garbage", () => {
  assert.equal(normalizeIp("::ffff:10.1.2.3"), "10.1.2.3");
  assert.equal(normalizeIp("FE80::1%eth0"), "fe80::1");
  assert.equal(normalizeIp("[2001:db8::1]"), "2001:db8::1");
  assert.equal(normalizeIp("203.0.113.9"), "203.0.113.9");
  assert.equal(normalizeIp("not an ip"), null);
  assert.equal(normalizeIp("1.2.3.4.5"), null);
  assert.equal(normalizeIp("9".repeat(100)), null);
});

test("a device as headers: normalized, hints as ASCII JSON, bounded", () => {
  const d = normalizeDevice({ userAgent: "UA \u00e9", ip: "::ffff:127.0.0.1", hints: { platform: "Linux", "\u0000": "x" } });
  assert.deepEqual(d, { userAgent: "UA ?", ip: "127.0.0.1", hints: { platform: "Linux" } });
  assert.deepEqual(deviceHeaders(d, {}), {
    "sesame-device-user-agent": "UA ?",
    "sesame-device-ip": "127.0.0.1",
    "sesame-device-hints": '{"platform":"Linux"}',
  });
  // Hints are JSON with non-ASCII escaped, so that they fit in a header.
  const h = deviceHeaders(normalizeDevice({ hints: { model: "Pixel \u20ac" } }), {});
  assert.equal(h["sesame-device-hints"], '{"model":"Pixel \\u20ac"}');
  assert.deepEqual(JSON.parse(h["sesame-device-hints"]!), { model: "Pixel \u20ac" });
  // Bounded: at most 16 hints.
  const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`h${i}`, "v"]));
  assert.equal(Object.keys(normalizeDevice({ hints: many }).hints!).length, 16);
  assert.deepEqual(normalizeDevice({ userAgent: "", ip: "nope" }), {});
});

test("without trusted proxies the peer is the client, whatever X-Forwarded-For says", () => {
  const a = new ClientAddress();
  assert.equal(a.resolve("::ffff:127.0.0.1", "6.6.6.6"), "127.0.0.1");
  assert.equal(a.resolve(undefined, "6.6.6.6"), null);
});

test("behind trusted proxies: the first untrusted hop from the right", () => {
  const a = new ClientAddress(["127.0.0.1", "10.0.0.0/8", "::1"]);
  // Client 203.0.113.7 -> proxy 10.0.0.2 -> proxy 127.0.0.1 (the peer).
  assert.equal(a.resolve("127.0.0.1", "203.0.113.7, 10.0.0.2"), "203.0.113.7");
  // A client-sent spoof on the left is not believed.
  assert.equal(a.resolve("127.0.0.1", "6.6.6.6, 203.0.113.7, 10.0.0.2"), "203.0.113.7");
  // Several headers count as one list.
  assert.equal(a.resolve("::1", ["6.6.6.6", "198.51.100.4"]), "198.51.100.4");
  // An untrusted peer's header is ignored.
  assert.equal(a.resolve("198.51.100.9", "6.6.6.6"), "198.51.100.9");
  // A malformed hop stops the walk at the last trusted proxy.
  assert.equal(a.resolve("127.0.0.1", "203.0.113.7, garbage"), "127.0.0.1");
  // Every hop trusted: the leftmost.
  assert.equal(a.resolve("127.0.0.1", "10.1.1.1, 10.2.2.2"), "10.1.1.1");
  // No header: the peer.
  assert.equal(a.resolve("127.0.0.1", undefined), "127.0.0.1");
});

test("a bad trusted-proxy entry is refused at construction", () => {
  assert.throws(() => new ClientAddress(["localhost"]), TypeError);
  assert.throws(() => new ClientAddress(["10.0.0.0/33"]), TypeError);
  assert.throws(() => new ClientAddress(["10.0.0.0/8/1"]), TypeError);
  assert.throws(() => new ClientAddress(["10.0.0.0/x"]), TypeError);
});
