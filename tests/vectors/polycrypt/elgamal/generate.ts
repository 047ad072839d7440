// Generates kat.json: two key pairs and encapsulations per ElGamal group, pinning the byte
// format of keys, encapsulations and the KDF. Run once:
//   deno run --allow-read --allow-write tests/vectors/polycrypt/elgamal/generate.ts
import { registry } from "../../../../mod.ts";

const vectors = [];
for (const bits of [2048, 3072, 4096, 6144, 8192]) {
  const kem = registry.kem(`elgamal-${bits}`);
  for (let i = 0; i < 2; i++) {
    const { publicKey, secretKey } = await kem.generateKeyPair();
    const { encapsulation, sharedSecret } = await kem.encapsulate(publicKey);
    vectors.push({
      id: kem.id,
      secretKey: secretKey.toHex(),
      publicKey: publicKey.toHex(),
      encapsulation: encapsulation.toHex(),
      sharedSecret: sharedSecret.toHex(),
    });
  }
}
await Deno.writeTextFile(
  new URL("./kat.json", import.meta.url),
  JSON.stringify({ format: "polycrypt elgamal v1 (docs/engines/elgamal.md)", vectors }, null, 1) + "\n",
);
console.log(`wrote ${vectors.length} vectors`);
