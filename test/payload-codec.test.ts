// The payload codec on its own: what it seals opens again, only with a key it knows, and never after a change.
import { defaultPayloadConverter, type Payload, ValueError } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/config.js';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, newPayloadKey } from '../service/payload-codec.js';

const key = () => Buffer.from(newPayloadKey(), 'base64');
const text = (b: Uint8Array | null | undefined) => new TextDecoder().decode(b ?? new Uint8Array());
const MARKER = 'Zhang San, ID 110101199003071234, +8613800138000';
const plain = (): Payload => defaultPayloadConverter.toPayload({ name: MARKER, limit: 50_000 });

describe('AES-256-GCM payload codec', () => {
  const k1 = key();
  const k2 = key();

  it('seals a payload into ciphertext labelled with its key id, and opens it to the same payload', async () => {
    const codec = new AesGcmPayloadCodec({ currentKeyId: 'k1', keys: { k1 } });
    const [sealed] = await codec.encode([plain()]);
    expect(text(sealed!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(sealed!.metadata![KEY_ID_METADATA])).toBe('k1');
    expect(Object.keys(sealed!.metadata!).sort()).toEqual(['encoding', KEY_ID_METADATA]); // the original encoding is inside
    expect(Buffer.from(sealed!.data!).includes(Buffer.from('110101199003071234'))).toBe(false);
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({ name: MARKER, limit: 50_000 });
  });

  it('seals the same payload differently each time (a fresh nonce per payload)', async () => {
    const codec = new AesGcmPayloadCodec({ currentKeyId: 'k1', keys: { k1 } });
    const [a, b] = await codec.encode([plain(), plain()]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  it('after rotation, payloads sealed with the old key still open and new ones are sealed with the new key', async () => {
    const before = new AesGcmPayloadCodec({ currentKeyId: 'k1', keys: { k1 } });
    const after = new AesGcmPayloadCodec({ currentKeyId: 'k2', keys: { k1, k2 } });
    const [old] = await before.encode([plain()]);
    expect(defaultPayloadConverter.fromPayload((await after.decode([old!]))[0]!)).toEqual({ name: MARKER, limit: 50_000 });
    const [fresh] = await after.encode([plain()]);
    expect(text(fresh!.metadata![KEY_ID_METADATA])).toBe('k2');
    // A process that has only the old key cannot open what the new key sealed: it says which key it lacks.
    await expect(before.decode([fresh!])).rejects.toThrow(/unknown key "k2"/);
  });

  it('refuses a payload whose ciphertext was altered', async () => {
    const codec = new AesGcmPayloadCodec({ currentKeyId: 'k1', keys: { k1 } });
    const [sealed] = await codec.encode([plain()]);
    const data = Buffer.from(sealed!.data!);
    data[20]! ^= 0x01;
    await expect(codec.decode([{ ...sealed!, data }])).rejects.toThrow(ValueError);
  });

  it('refuses a payload relabelled with another known key id', async () => {
    const codec = new AesGcmPayloadCodec({ currentKeyId: 'k1', keys: { k1, k2 } });
    const [sealed] = await codec.encode([plain()]);
    const relabelled = { ...sealed!, metadata: { ...sealed!.metadata, [KEY_ID_METADATA]: new TextEncoder().encode('k2') } };
    await expect(codec.decode([relabelled])).rejects.toThrow(/does not open/);
  });

  it('refuses a truncated encrypted payload', async () => {
    const codec = new AesGcmPayloadCodec({ currentKeyId: 'k1', keys: { k1 } });
    const [sealed] = await codec.encode([plain()]);
    await expect(codec.decode([{ ...sealed!, data: sealed!.data!.subarray(0, 10) }])).rejects.toThrow(/too short/);
  });

  it('passes a payload written before encryption through decoding unchanged', async () => {
    const codec = new AesGcmPayloadCodec({ currentKeyId: 'k1', keys: { k1 } });
    const original = plain();
    expect((await codec.decode([original]))[0]).toBe(original);
  });
});

describe('payload keys in the configuration', () => {
  const k = newPayloadKey();

  it('reads the keys and the current key id', () => {
    const c = loadConfig({ TEMPORAL_PAYLOAD_KEYS: JSON.stringify({ old: newPayloadKey(), new: k }), TEMPORAL_PAYLOAD_KEY_ID: 'new' });
    expect(c.payloadKeys!.currentKeyId).toBe('new');
    expect(Buffer.from(c.payloadKeys!.keys.new!).toString('base64')).toBe(k);
    expect(Object.keys(c.payloadKeys!.keys).sort()).toEqual(['new', 'old']);
  });

  it('takes a single key as the current one without a key id', () => {
    expect(loadConfig({ TEMPORAL_PAYLOAD_KEYS: JSON.stringify({ only: k }) }).payloadKeys!.currentKeyId).toBe('only');
  });

  it.each([
    ['not JSON', { TEMPORAL_PAYLOAD_KEYS: 'k1:abc' }, /not JSON/],
    ['an empty object', { TEMPORAL_PAYLOAD_KEYS: '{}' }, /non-empty object/],
    ['a key of 16 bytes', { TEMPORAL_PAYLOAD_KEYS: JSON.stringify({ k1: Buffer.alloc(16, 1).toString('base64') }) }, /key "k1" must be the base64 of 32 random bytes/],
    ['a key that is not base64', { TEMPORAL_PAYLOAD_KEYS: JSON.stringify({ k1: 'not base64 at all!' }) }, /must be the base64/],
    ['a bad key id', { TEMPORAL_PAYLOAD_KEYS: JSON.stringify({ 'k 1': k }) }, /key id "k 1"/],
    ['two keys and no current one', { TEMPORAL_PAYLOAD_KEYS: JSON.stringify({ a: k, b: k }) }, /TEMPORAL_PAYLOAD_KEY_ID: say which/],
    ['a current key id that is not among them', { TEMPORAL_PAYLOAD_KEYS: JSON.stringify({ a: k }), TEMPORAL_PAYLOAD_KEY_ID: 'b' }, /"b" is not among/],
    ['a key id without keys', { TEMPORAL_PAYLOAD_KEY_ID: 'a' }, /TEMPORAL_PAYLOAD_KEYS is not/],
  ])('refuses %s, without echoing a key', (_name, env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
    try {
      loadConfig(env);
    } catch (err) {
      expect((err as Error).message).not.toContain(k);
    }
  });

  it('without keys, development runs with plain payloads (the worker warns) and production refuses', () => {
    expect(loadConfig({ NODE_ENV: 'development' }).payloadKeys).toBeUndefined();
    expect(() => loadConfig({ NODE_ENV: 'production', TWILIO_AUTH_TOKEN: 'a8f3a1c9e2b7d4f60a5c1e9b3d7f2a6c', WEBHOOK_SECRET: 'Qm9xTqv7Zr2LwP8sYk4NdJ6hFc1GtB5e' })).toThrow(
      'TEMPORAL_PAYLOAD_KEYS is not set',
    );
  });
});
