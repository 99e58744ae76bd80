// A server's connections reuse their read buffers (issue 25): a released
// wire's buffer is zeroed before another wire takes it, and the released wire
// holds no bytes.

import assert from "node:assert/strict";
import { Wire } from "../lib/net/wire.ts";

/** A loopback pair: the Wire on one end, the raw peer on the other. */
async function pair(): Promise<{ wire: Wire; peer: Deno.Conn }> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peer = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  return { wire: new Wire(await listener.accept()), peer };
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("a released wire's buffer is zeroed, then serves the next wire with only its bytes", async () => {
  const first = await pair();
  await first.peer.write(new TextEncoder().encode("secret of the first"));
  while (first.wire.buffered.length < 19) assert.ok(await first.wire.fill());
  assert.equal(text(first.wire.buffered), "secret of the first");
  // A view kept against the rule, to see the buffer itself after the release.
  const view = first.wire.buffered;
  first.wire.release();
  first.wire.release();
  first.peer.close();
  assert.equal(first.wire.buffered.length, 0, "a released wire holds no bytes");
  assert.ok(view.every((byte) => byte === 0), "the buffer is zeroed when released");

  const second = await pair();
  try {
    await second.peer.write(new TextEncoder().encode("ab"));
    assert.ok(await second.wire.fill());
    assert.equal(text(second.wire.buffered), "ab", "the next wire sees only its own bytes");
    assert.equal(text(view.subarray(0, 2)), "ab", "the next wire reads into the released buffer");
    assert.ok(view.subarray(2).every((byte) => byte === 0));
  } finally {
    second.wire.release();
    second.peer.close();
  }
});
