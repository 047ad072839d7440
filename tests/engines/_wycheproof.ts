// Loads a Wycheproof vector file from tests/vectors/wycheproof/ and flattens its cases.
export interface WycheproofCase {
  tcId: number;
  result: "valid" | "invalid" | "acceptable";
  flags: string[];
  // deno-lint-ignore no-explicit-any
  [field: string]: any;
}

export interface WycheproofFile {
  numberOfTests: number;
  // deno-lint-ignore no-explicit-any
  cases: { group: Record<string, any>; test: WycheproofCase }[];
}

export async function loadWycheproof(name: string): Promise<WycheproofFile> {
  const file = JSON.parse(
    await Deno.readTextFile(new URL(`../vectors/wycheproof/${name}`, import.meta.url)),
  );
  // deno-lint-ignore no-explicit-any
  const cases = file.testGroups.flatMap((group: any) =>
    group.tests.map((test: WycheproofCase) => ({ group, test }))
  );
  return { numberOfTests: file.numberOfTests, cases };
}

export const hex = (s: string): Uint8Array => Uint8Array.fromHex(s);
