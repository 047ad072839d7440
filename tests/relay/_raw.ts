// A relay client that sends the bytes a test chooses: commands signed or not, replayed, garbage.
import { Connection, dial } from "../../transports/mod.ts";
import {
  COMMAND,
  commandMessage,
  encodeAuthKey,
  encodeCommand,
  type Hello,
  parseHello,
  parseResponse,
  type QueueKey,
  RESPONSE,
  type Response,
  signedPart,
} from "../../relay/mod.ts";
import { registry } from "../../mod.ts";

export class RawRelay {
  seq = 0;
  private constructor(
    readonly connection: Connection,
    readonly hello: Hello,
    readonly frames: AsyncGenerator<Uint8Array>,
  ) {}

  static async connect(url: string): Promise<RawRelay> {
    const connection = await dial(url, { relayFrames: true });
    if (!(connection instanceof Connection)) throw new Error("not a connection");
    const frames = connection.relayFrames();
    const first = await frames.next();
    if (first.done) throw new Error("no greeting");
    return new RawRelay(connection, parseHello(first.value), frames);
  }

  /** A command's bytes, signed with `key` over `nonce` (this connection's by default). */
  async build(
    tag: number,
    id: Uint8Array,
    body: Uint8Array,
    key?: QueueKey,
    options: { seq?: number; nonce?: Uint8Array } = {},
  ): Promise<Uint8Array> {
    const seq = options.seq ?? ++this.seq;
    let auth: Uint8Array = new Uint8Array(0);
    if (key) {
      const m = commandMessage(options.nonce ?? this.hello.nonce, seq, signedPart(tag, id, body));
      auth = await registry.signature(key.algorithm).sign(key.secretKey, m);
    }
    return encodeCommand({ seq, auth, tag, id, body });
  }

  /** Sends raw payload bytes in a RELAY frame and returns the next non-push response. */
  async exchange(bytes: Uint8Array): Promise<Response> {
    await this.connection.sendRelayFrame(bytes);
    return await this.next();
  }

  /** Sends raw payload bytes and returns the very next frame, push or not. */
  async exchangeAny(bytes: Uint8Array): Promise<Response> {
    await this.connection.sendRelayFrame(bytes);
    const r = await this.frames.next();
    if (r.done) throw new Error("the relay closed the connection");
    return parseResponse(r.value);
  }

  /** Frames of the kind not asked for yet, kept in order. */
  readonly #held: { push: Response[]; answer: Response[] } = { push: [], answer: [] };

  /** How many pushes arrived that no one asked for yet. */
  get heldPushes(): number {
    return this.#held.push.length;
  }

  async next(push = false): Promise<Response> {
    const want = push ? this.#held.push : this.#held.answer;
    if (want.length > 0) return want.shift()!;
    for (;;) {
      const r = await this.frames.next();
      if (r.done) throw new Error("the relay closed the connection");
      const response = parseResponse(r.value);
      if ((response.seq === 0) === push) return response;
      (push ? this.#held.answer : this.#held.push).push(response);
    }
  }

  async command(
    tag: number,
    id: Uint8Array,
    body: Uint8Array,
    key?: QueueKey,
  ): Promise<Response> {
    return await this.exchange(await this.build(tag, id, body, key));
  }

  async create(key: QueueKey): Promise<{ rid: Uint8Array; sid: Uint8Array }> {
    const r = await this.command(COMMAND.NEW, new Uint8Array(0), encodeAuthKey(key), key);
    if (r.tag !== RESPONSE.IDS) throw new Error(`NEW answered ${r.tag} ${r.body[0]}`);
    return { rid: r.body.slice(0, 24), sid: r.body.slice(24) };
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}

/** The error code of an ERR response, or undefined for anything else. */
export function errCode(r: Response): number | undefined {
  return r.tag === RESPONSE.ERR ? r.body[0] : undefined;
}
