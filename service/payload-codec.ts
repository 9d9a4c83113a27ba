// Payload encryption for everything the service puts into Temporal: workflow inputs, signals, queries' answers,
// activity inputs and results, continue-as-new state, failures' details, and (through failure-converter.cjs)
// failures' messages and stack traces. A payload is serialised whole (metadata
// and data) and sealed with AES-256-GCM; the sealed payload says only `binary/encrypted` and which key sealed it, so
// Temporal's history, its database and its UI hold ciphertext. Codecs run in the client and in the worker's main
// thread, outside the workflow sandbox, so Node's crypto is fine here.
//
// Rotation: several keys are known by id; the current one seals, any known one opens. Retire an old key only once
// no history still needs it (the namespace's retention after the last workflow it sealed was closed).
// Histories recorded before encryption was turned on hold plain payloads: those pass through decoding unchanged.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { type DataConverter, type Payload, type PayloadCodec, ValueError } from '@temporalio/common';
// A CommonJS package: a named import works under vitest but not under plain Node ESM.
import proto from '@temporalio/proto';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

const PayloadProto = proto.temporal.api.common.v1.Payload;
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : undefined);

export interface PayloadKeys {
  /** The id of the key new payloads are sealed with. */
  currentKeyId: string;
  /** Every known key by id (the current one included): 32 bytes each. */
  keys: Record<string, Uint8Array>;
}

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly keys: Map<string, Uint8Array>;

  constructor(private readonly config: PayloadKeys) {
    this.keys = new Map(Object.entries(config.keys));
    for (const [id, key] of this.keys) if (key.length !== KEY_BYTES) throw new Error(`payload key "${id}" must be ${KEY_BYTES} bytes, not ${key.length}`);
    if (!this.keys.has(config.currentKeyId)) throw new Error(`the current payload key "${config.currentKeyId}" is not among the keys`);
  }

  // async: an error is a rejected promise, as the SDK expects of a codec.
  async encode(payloads: Payload[]): Promise<Payload[]> {
    const keyId = this.config.currentKeyId;
    const key = this.keys.get(keyId)!;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      // The key id is bound into the tag: a payload relabelled with another key id does not open.
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(utf8(keyId));
      const sealed = Buffer.concat([iv, cipher.update(PayloadProto.encode(payload).finish()), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(keyId) }, data: sealed };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.open(payload));
  }

  private open(payload: Payload): Payload {
    if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload; // written before encryption: as it is
    const keyId = text(payload.metadata?.[KEY_ID_METADATA]);
    if (keyId === undefined) throw new ValueError('an encrypted payload without a key id');
    const key = this.keys.get(keyId);
    if (!key) throw new ValueError(`an encrypted payload sealed with the unknown key "${keyId}"`);
    const data = payload.data ?? new Uint8Array();
    if (data.length < IV_BYTES + TAG_BYTES) throw new ValueError('an encrypted payload too short to hold its nonce and tag');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES)).setAAD(utf8(keyId));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return PayloadProto.decode(plain) as Payload;
    } catch (err) {
      throw new ValueError(`an encrypted payload (key "${keyId}") does not open: it was altered or sealed with another key`, err);
    }
  }
}

/** The module whose failure converter puts failures' messages and stacks into (encrypted) payloads. */
export const failureConverterPath = fileURLToPath(new URL('./failure-converter.cjs', import.meta.url));

/** The data converter every Temporal client and worker of the service uses; without keys, Temporal's default. The
 * workflow bundle must be built with the same `failureConverterPath` (see `bundleOptions`). */
export function dataConverterFor(keys: PayloadKeys | undefined): DataConverter {
  return keys ? { payloadCodecs: [new AesGcmPayloadCodec(keys)], failureConverterPath } : {};
}

/** A new random key, base64, as TEMPORAL_PAYLOAD_KEYS takes it. */
export function newPayloadKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}
