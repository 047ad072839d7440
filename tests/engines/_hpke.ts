// The RFC 9180 test vectors (tests/vectors/hpke/, gzipped), loaded once.
export interface HpkeSuite {
  mode: number;
  kem_id: number;
  kdf_id: number;
  aead_id: number;
  ikmR: string;
  ikmE: string;
  skRm: string;
  skEm: string;
  pkRm: string;
  pkEm: string;
  enc: string;
  shared_secret: string;
}

export async function loadHpkeVectors(): Promise<HpkeSuite[]> {
  const file = await Deno.open(
    new URL("../vectors/hpke/vectors_rfc9180_5f503c5.json.gz", import.meta.url),
  );
  const text = await new Response(file.readable.pipeThrough(new DecompressionStream("gzip")))
    .text();
  return JSON.parse(text);
}

/** Base and PSK modes use plain Encap/Decap; the auth modes use AuthEncap (RFC 9180 section 5.1). */
export const plainEncapModes = (s: HpkeSuite) => s.mode === 0 || s.mode === 1;
