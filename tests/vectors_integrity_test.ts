// The vectors are exactly what was published (external) or first committed (polycrypt): their
// sha256 must match SHA256SUMS.
import assert from "node:assert/strict";

const dir = new URL("./vectors/", import.meta.url);

Deno.test("external vector files match their recorded sha256", async () => {
  const sums = await Deno.readTextFile(new URL("SHA256SUMS", dir));
  let checked = 0;
  for (const line of sums.trim().split("\n")) {
    const [expected, path] = line.split(/\s+/);
    const bytes = await Deno.readFile(new URL(path.replace(/^\.\//, ""), dir));
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    assert.equal(digest.toHex(), expected, path);
    checked++;
  }
  assert.equal(checked, 34);
});
