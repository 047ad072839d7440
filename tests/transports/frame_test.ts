// Frame codec (docs/transports.md): round trips under any chunking, hostile byte streams only
// ever give FrameError, limits checked before the payload, stalls time out.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  encodeFrame,
  FRAME,
  FRAME_HEADER_SIZE,
  FrameError,
  FrameReader,
} from "../../transports/mod.ts";

const TYPES = Object.values(FRAME);

/** Cuts bytes at the given offsets into a ReadableStream. */
function chunked(bytes: Uint8Array, cuts: number[]): ReadableStream<Uint8Array> {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    if (p > last) pieces.push(bytes.slice(last, p));
    last = Math.max(last, p);
  }
  return ReadableStream.from(pieces);
}

async function readAll(reader: FrameReader) {
  const frames = [];
  for (;;) {
    const f = await reader.next();
    if (!f) return frames;
    frames.push(f);
  }
}

Deno.test("frames round-trip under any chunking", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.tuple(fc.constantFrom(...TYPES), fc.uint8Array({ maxLength: 300 })).map((
          [type, payload],
        ) => ({ type, payload: type === FRAME.ack ? new Uint8Array(16).fill(7) : payload })),
        { maxLength: 8 },
      ),
      fc.array(fc.nat(), { maxLength: 20 }),
      async (frames, cuts) => {
        const bytes = new Uint8Array(frames.flatMap((f) => [...encodeFrame(f.type, f.payload)]));
        const got = await readAll(new FrameReader(chunked(bytes, cuts)));
        assert.deepEqual(
          got.map((f) => [f.type, [...f.payload]]),
          frames.map((f) => [
            f.type,
            [...f.payload],
          ]),
        );
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("random byte streams give frames or FrameError, nothing else", async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat()), async (bytes, cuts) => {
      // Bias toward plausible headers: a valid version byte in front half the time.
      const input = bytes.length && bytes[0] % 2 ? bytes : new Uint8Array([1, ...bytes]);
      try {
        await readAll(new FrameReader(chunked(input, cuts), { maxFrameBytes: 64 }));
      } catch (e) {
        assert.ok(e instanceof FrameError, String(e));
      }
    }),
    { numRuns: 5000 },
  );
});

Deno.test("header rules are checked before any payload is read", async (t) => {
  const headerOnly = (h: number[]) => {
    // A stream that delivers a header and then never ends: a reader that waited for the
    // payload would hang, so a prompt FrameError shows the check came first.
    return new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(h));
      },
    });
  };
  const cases: [string, number[]][] = [
    ["unsupported version", [2, FRAME.envelope, 0, 0, 0, 1]],
    ["unknown type", [1, 9, 0, 0, 0, 1]],
    ["over the limit", [1, FRAME.envelope, 0, 0, 4, 1]],
    ["2^32 - 1", [1, FRAME.part, 255, 255, 255, 255]],
    ["ACK of the wrong size", [1, FRAME.ack, 0, 0, 0, 15]],
  ];
  for (const [name, header] of cases) {
    await t.step(name, async () => {
      const reader = new FrameReader(headerOnly(header), { maxFrameBytes: 1024 });
      await assert.rejects(reader.next(), FrameError);
      await reader.cancel();
    });
  }
});

Deno.test("truncation is an error; a clean end between frames is not", async () => {
  const frame = encodeFrame(FRAME.envelope, new Uint8Array(100));
  for (let cut = 1; cut < frame.length; cut++) {
    const reader = new FrameReader(ReadableStream.from([frame.slice(0, cut)]));
    await assert.rejects(reader.next(), FrameError, `cut at ${cut}`);
  }
  assert.equal(await new FrameReader(ReadableStream.from([])).next(), undefined);
  assert.equal(FRAME_HEADER_SIZE, 6);
});

Deno.test("a peer that stalls inside a frame times out", async () => {
  const stalled = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array([1, FRAME.envelope, 0, 0]));
    },
  });
  const reader = new FrameReader(stalled, { idleTimeoutMs: 50 });
  const start = performance.now();
  await assert.rejects(reader.next(), FrameError);
  assert.ok(performance.now() - start >= 45);
  await reader.cancel();
});

Deno.test("encodeFrame and FrameReader check their arguments", () => {
  assert.throws(() => encodeFrame(9, new Uint8Array()), RangeError);
  assert.throws(() => encodeFrame(FRAME.part, "x" as unknown as Uint8Array), TypeError);
  assert.throws(() => new FrameReader(ReadableStream.from([]), { maxFrameBytes: 0 }), RangeError);
  assert.throws(() => new FrameReader(ReadableStream.from([]), { idleTimeoutMs: -1 }), RangeError);
});
