// The settings for a secured Temporal (TLS, mTLS, an API key) become the SDK's own connection options, the same for
// the client the API uses and the worker's native connection.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/config.js';
import { temporalConnectionOptions } from '../service/temporal-client.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n';
const CRT = '-----BEGIN CERTIFICATE-----\nMIIBcrt\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIBkey\n-----END PRIVATE KEY-----\n';
const text = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : undefined);
const options = (env: Record<string, string>) => temporalConnectionOptions(loadConfig({ TEMPORAL_ADDRESS: 'temporal.bank.internal:7233', ...env }).temporal);

describe('Temporal connection security', () => {
  it('without settings: plain TCP, no API key', () => {
    expect(options({})).toEqual({ address: 'temporal.bank.internal:7233' });
  });

  it('mTLS from PEM files: the server CA, the client pair and the server name', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tls-'));
    writeFileSync(path.join(dir, 'ca.pem'), CA);
    writeFileSync(path.join(dir, 'client.pem'), CRT);
    writeFileSync(path.join(dir, 'client.key'), KEY);
    const o = options({
      TEMPORAL_TLS_CA: path.join(dir, 'ca.pem'),
      TEMPORAL_TLS_CERT: path.join(dir, 'client.pem'),
      TEMPORAL_TLS_KEY: path.join(dir, 'client.key'),
      TEMPORAL_TLS_SERVER_NAME: 'temporal-frontend',
    });
    expect(o.tls).toBeDefined();
    const tls = o.tls as Exclude<typeof o.tls, undefined | boolean | null>;
    expect(text(tls.serverRootCACertificate)).toBe(CA);
    expect(text(tls.clientCertPair?.crt)).toBe(CRT);
    expect(text(tls.clientCertPair?.key)).toBe(KEY);
    expect(tls.serverNameOverride).toBe('temporal-frontend');
    expect(o.apiKey).toBeUndefined();
  });

  it('PEM text given directly works as a file does', () => {
    const tls = options({ TEMPORAL_TLS_CERT: CRT, TEMPORAL_TLS_KEY: KEY }).tls as { clientCertPair?: { crt: Uint8Array; key: Uint8Array } };
    expect(text(tls.clientCertPair?.crt)).toBe(CRT);
  });

  it('an API key turns TLS on (as Temporal Cloud needs) and is passed as the SDK option', () => {
    expect(options({ TEMPORAL_API_KEY: 'cloud-api-key' })).toEqual({ address: 'temporal.bank.internal:7233', tls: {}, apiKey: 'cloud-api-key' });
  });

  it('TEMPORAL_TLS=true alone: TLS with the system CAs; =false with an API key: plain TCP', () => {
    expect(options({ TEMPORAL_TLS: 'true' })).toEqual({ address: 'temporal.bank.internal:7233', tls: {} });
    expect(options({ TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'k' })).toEqual({ address: 'temporal.bank.internal:7233', apiKey: 'k' });
  });

  it.each([
    ['a certificate without its key', { TEMPORAL_TLS_CERT: CRT }, /go together/],
    ['a file that is not there', { TEMPORAL_TLS_CA: '/nonexistent/ca.pem' }, /TEMPORAL_TLS_CA: cannot read/],
    ['TLS off with TLS files', { TEMPORAL_TLS: 'false', TEMPORAL_TLS_CA: CA }, /contradicts/],
  ])('refuses %s', (_name, env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
