// The one stream-splice helper (cascade/_splice.ts) behind the CLI's sniffing, its file-message
// header and the cascade's armor detection.
import assert from "node:assert/strict";
import { peek, prepend } from "../../cascade/_splice.ts";
import { concatBytes } from "../../engines/_bytes.ts";
import { patternBytes, readAll, streamOf } from "./_helpers.ts";

Deno.test("peek returns the first bytes and the whole input, however it is chunked", async () => {
  const data = patternBytes(1000);
  for (const sizes of [[1], [7, 300], [1000], [199, 1, 5]]) {
    const [head, whole] = await peek(streamOf(data, sizes), 200);
    assert.ok(head.length >= 200, `${sizes}: ${head.length}`);
    assert.deepEqual(head, data.subarray(0, head.length));
    assert.deepEqual(await readAll(ReadableStream.from(whole)), data);
  }
  const [short, all] = await peek(streamOf(data.subarray(0, 50)), 200);
  assert.deepEqual(short, data.subarray(0, 50));
  assert.deepEqual(await readAll(ReadableStream.from(all)), data.subarray(0, 50));
  const [none, empty] = await peek(ReadableStream.from<Uint8Array>([]), 9);
  assert.equal(none.length, 0);
  assert.deepEqual(await Array.fromAsync(empty), []);
  await assert.rejects(
    peek(ReadableStream.from(["text"]) as unknown as ReadableStream<Uint8Array>, 9),
    TypeError,
  );
});

Deno.test("prepend puts bytes in front, and passes a cancel on to the rest", async () => {
  const parts = () => ReadableStream.from([new Uint8Array([3, 4]), new Uint8Array([5])]);
  const joined = await readAll(ReadableStream.from(prepend(new Uint8Array([1, 2]), parts())));
  assert.deepEqual(joined, new Uint8Array([1, 2, 3, 4, 5]));
  assert.deepEqual(
    await Array.fromAsync(prepend(new Uint8Array(0), parts())),
    await Array.fromAsync(parts()),
  );

  for (const readFirst of [1, 2]) {
    let cancelled = false;
    const source = new ReadableStream<Uint8Array>({
      pull: (c) => c.enqueue(new Uint8Array(10)),
      cancel: () => {
        cancelled = true;
      },
    });
    // Cancelled at the head (1 chunk read) or inside the rest (2 chunks read).
    const stream = ReadableStream.from(prepend(new Uint8Array([1]), source));
    const reader = stream.getReader();
    for (let i = 0; i < readFirst; i++) await reader.read();
    await reader.cancel();
    assert.ok(cancelled, `cancel after ${readFirst} chunk(s) reaches the source`);
  }
  // The same through peek, as the CLI reads standard input.
  let cancelled = false;
  const input = new ReadableStream<Uint8Array>({
    pull: (c) => c.enqueue(new Uint8Array(100)),
    cancel: () => {
      cancelled = true;
    },
  });
  const [head, whole] = await peek(input, 150);
  assert.equal(head.length, 200);
  const reader = ReadableStream.from(whole).getReader();
  assert.deepEqual(
    (await reader.read()).value,
    concatBytes(new Uint8Array(100), new Uint8Array(100)),
  );
  await reader.cancel();
  assert.ok(cancelled);
});
