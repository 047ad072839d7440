/**
 * libsignal alone: `deno run --config bench/deno.json --allow-all bench/libsignal/run.ts`
 * `[--rounds N] [--messages N] [--handshakes N] [--dir DIR]`.
 *
 * Fetches `@signalapp/libsignal-client` 0.103.0 into a temporary directory (client.ts), measures
 * 1 KiB messages with in-memory stores (encrypt + decrypt per second in one direction and in
 * alternating directions, bytes on the wire) and the PQXDH handshake, prints a Markdown table and
 * deletes the directory. `deno task bench:sessions` runs the same measurements interleaved with
 * polycrypt's; this script is for looking at libsignal on its own. When the fetch or the native
 * addon fails, it says why and prints the figures the issue quotes, labelled as quoted.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { LIBSIGNAL_PACKAGE, LIBSIGNAL_VERSION, QUOTED, startLibsignal } from "./client.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "5" },
    messages: { type: "string", default: "1000" },
    handshakes: { type: "string", default: "20" },
    dir: { type: "string" },
  },
});
const rounds = Number(values.rounds);
const messages = Number(values.messages);
const handshakes = Number(values.handshakes);
if (!(rounds >= 1 && messages >= 2 && handshakes >= 1)) {
  throw new RangeError("--rounds, --handshakes must be >= 1 and --messages >= 2");
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const n0 = (x: number) => Math.round(x).toLocaleString("en-US");

const peer = await startLibsignal({ dir: values.dir });
if ("error" in peer) {
  console.log(
    [
      `# libsignal (${LIBSIGNAL_PACKAGE}@${LIBSIGNAL_VERSION}): not measured`,
      "",
      `It could not be run here: ${peer.error}.`,
      "",
      "The figures issue 23 quotes (Deno 2.9.6 on this machine, in-memory stores, 1 KiB), " +
      "**quoted, not measured in this run**:",
      "",
      `- one direction: ${n0(QUOTED.oneWayPerSecond.quiet)} msgs/s quiet, ` +
      `${n0(QUOTED.oneWayPerSecond.busy)} busy`,
      `- alternating: ${n0(QUOTED.alternatingPerSecond.quiet)} msgs/s quiet, ` +
      `${QUOTED.alternatingPerSecond.busy.join("-")} busy`,
      `- bytes on the wire for 1 KiB: ${QUOTED.wireBytes.map(n0).join("-")}`,
    ].join("\n"),
  );
  Deno.exit(0);
}

try {
  const oneWay: number[] = [], alternating: number[] = [];
  const sizes: number[] = [];
  const perOne: number[] = [], perAlt: number[] = [];
  const initiator: number[] = [], responder: number[] = [], firstSizes: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r > 0) await peer.restart(); // a young process each round (client.ts)
    const a = await peer.oneWay(messages);
    const b = await peer.alternating(messages);
    const h = await peer.handshake(handshakes);
    oneWay.push(messages / a.ms * 1000);
    alternating.push(messages / b.ms * 1000);
    sizes.push(...a.sizes, ...b.sizes);
    perOne.push(...a.per);
    perAlt.push(...b.per);
    initiator.push(...h.initiator);
    responder.push(...h.responder);
    firstSizes.push(...h.sizes);
    console.error(
      `round ${r + 1}: one direction ${n0(oneWay.at(-1)!)}/s, alternating ${
        n0(alternating.at(-1)!)
      }/s, handshake ${median(h.initiator).toFixed(2)} + ${median(h.responder).toFixed(2)} ms`,
    );
  }
  console.log(
    [
      `# libsignal ${peer.version} in Deno ${Deno.version.deno}, ${new Date().toISOString()}`,
      "",
      `1 KiB messages, in-memory stores holding serialized records; medians of ${rounds} rounds ` +
      `of ${messages} messages (encrypt then decrypt each) and ${handshakes} handshakes.`,
      "",
      "| measure | figure |",
      "| --- | ---: |",
      `| one direction, msgs/s | ${n0(median(oneWay))} |`,
      `| alternating directions, msgs/s | ${n0(median(alternating))} |`,
      `| median message, one direction / alternating, us | ${n0(median(perOne) * 1000)} / ${
        n0(median(perAlt) * 1000)
      } |`,
      `| longest message, ms | ${n0(Math.max(...perOne, ...perAlt))} |`,
      `| bytes on the wire per 1 KiB message (min / median / max) | ${n0(Math.min(...sizes))} / ${
        n0(median(sizes))
      } / ${n0(Math.max(...sizes))} |`,
      `| handshake, initiator (processPreKeyBundle + first message), ms | ${
        median(initiator).toFixed(2)
      } |`,
      `| handshake, responder (first message decrypted), ms | ${median(responder).toFixed(2)} |`,
      `| first (PreKey) message, bytes | ${n0(median(firstSizes))} |`,
    ].join("\n"),
  );
} finally {
  await peer.close();
}
