// With NODE_ENV=production the built-in Twilio auth token and webhook secret (or none at all) stop start-up: a known
// token lets anyone forge delivery callbacks, a known secret lets anyone sign pushes. WeChat is optional: without
// WECHAT_APP_ID it is not configured and needs no secret; with it, its secret is held to the same rule.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { channelsNotConfigured, createChannel } from '../channels/registry.js';
import { ConfigError, loadConfig } from '../config/config.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REAL = {
  TWILIO_AUTH_TOKEN: '8f3a1c9e2b7d4f60a5c1e9b3d7f2a6c4',
  WEBHOOK_SECRET: 'Qm9xTqv7Zr2LwP8sYk4NdJ6hFc1GtB5e',
  TEMPORAL_PAYLOAD_KEYS: JSON.stringify({ k1: 'q0CFmUy3xWy9oGn8gZ8Yh0rK7oOa0y2i5qXbN2C4m1c=' }),
  PREFERENCES_SECRET: 'u7Hc2Lq9Vx4Rk8Tz1Nm6Pb3Wf5Yd0Js2Ga',
  PUBLIC_BASE_URL: 'https://journeys.bank.example',
};
/** A bank that uses WeChat: its official account's app id and secret. */
const WECHAT = { WECHAT_APP_ID: 'wx8c2f4e6a1b3d5f70', WECHAT_APP_SECRET: '3f9c2e7a1b8d4c6e0a5f9b2d7c4e1a8b' };
const WECHAT_SETTINGS = { appId: WECHAT.WECHAT_APP_ID, appSecret: WECHAT.WECHAT_APP_SECRET };

describe('production refuses placeholder secrets', () => {
  it.each([
    ['the Twilio auth token missing', { WEBHOOK_SECRET: REAL.WEBHOOK_SECRET }, 'TWILIO_AUTH_TOKEN is not set'],
    ['the webhook secret missing', { TWILIO_AUTH_TOKEN: REAL.TWILIO_AUTH_TOKEN }, 'WEBHOOK_SECRET is not set'],
    ['the built-in Twilio auth token', { ...REAL, TWILIO_AUTH_TOKEN: 'local-sink-token' }, 'TWILIO_AUTH_TOKEN is a placeholder'],
    ['the built-in webhook secret', { ...REAL, WEBHOOK_SECRET: 'local-webhook-secret-change-me' }, 'WEBHOOK_SECRET is a placeholder'],
    ["the compose file's placeholder webhook secret", { ...REAL, WEBHOOK_SECRET: 'change-me-to-a-long-random-secret' }, 'WEBHOOK_SECRET is a placeholder'],
    ['an empty Twilio auth token', { ...REAL, TWILIO_AUTH_TOKEN: '  ' }, 'TWILIO_AUTH_TOKEN is not set'],
    ['no payload encryption keys', { TWILIO_AUTH_TOKEN: REAL.TWILIO_AUTH_TOKEN, WEBHOOK_SECRET: REAL.WEBHOOK_SECRET }, 'TEMPORAL_PAYLOAD_KEYS is not set'],
    ['the preferences secret missing', { ...REAL, PREFERENCES_SECRET: undefined }, 'PREFERENCES_SECRET is not set'],
    ['the built-in preferences secret', { ...REAL, PREFERENCES_SECRET: 'local-preferences-secret-change-me' }, 'PREFERENCES_SECRET is a placeholder'],
    ['a WeChat app id with the built-in app secret', { ...REAL, ...WECHAT, WECHAT_APP_SECRET: 'local-wechat-sink-secret' }, 'WECHAT_APP_SECRET is a placeholder'],
    ['a WeChat app id with a placeholder app secret', { ...REAL, ...WECHAT, WECHAT_APP_SECRET: 'change-me' }, 'WECHAT_APP_SECRET is a placeholder'],
    ['a WeChat app id without its app secret', { ...REAL, ...WECHAT, WECHAT_APP_SECRET: undefined }, 'WECHAT_APP_SECRET is not set (required when WECHAT_APP_ID is)'],
    ['a WeChat app secret without its app id', { ...REAL, ...WECHAT, WECHAT_APP_ID: undefined }, 'WECHAT_APP_SECRET is set but WECHAT_APP_ID is not'],
    ['no public address for the links in emails', { ...REAL, PUBLIC_BASE_URL: undefined }, 'PUBLIC_BASE_URL is not set'],
  ])('%s stops start-up', (_name, env, message) => {
    expect(() => loadConfig({ NODE_ENV: 'production', ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production', ...env })).toThrow(message);
  });

  it('a bank without WeChat starts in production with no WeChat settings at all: the channel is not configured', () => {
    const config = loadConfig({ NODE_ENV: 'production', ...REAL });
    expect(config.wechat).toBeUndefined();
    expect(channelsNotConfigured(config)).toEqual({ wechat: 'WECHAT_APP_ID is not set' });
    expect(createChannel('wechat', config)).toMatchObject({ name: 'wechat', notConfigured: 'the wechat channel is not configured: WECHAT_APP_ID is not set' });
  });

  it('a bank with WeChat starts in production with its app id and real secret: the channel is configured', () => {
    const config = loadConfig({ NODE_ENV: 'production', ...REAL, ...WECHAT });
    expect(config.wechat).toEqual({ appId: WECHAT.WECHAT_APP_ID, appSecret: WECHAT.WECHAT_APP_SECRET, apiBaseUrl: 'https://api.weixin.qq.com' });
    expect(channelsNotConfigured(config)).toEqual({});
  });

  it('real secrets start in production; the defaults still serve development and tests', () => {
    expect(loadConfig({ NODE_ENV: 'production', ...REAL }).twilio.authToken).toBe(REAL.TWILIO_AUTH_TOKEN);
    expect(loadConfig({ NODE_ENV: 'development' }).webhook.secret).toBe('local-webhook-secret-change-me');
    expect(loadConfig({ NODE_ENV: 'test' }).twilio.authToken).toBe('local-sink-token');
    // Outside production WeChat is the local sink's unless given, so `npm start` and the tests send to the sink.
    expect(loadConfig({ NODE_ENV: 'development' }).wechat).toMatchObject({ appId: 'wx00000000000000dev', appSecret: 'local-wechat-sink-secret' });
    expect(loadConfig({ NODE_ENV: 'production', ...REAL }).preferences).toEqual({ secret: REAL.PREFERENCES_SECRET, linkDays: 30 });
  });

  it("outside production a real WeChat app id without its secret stops start-up; the sink's app id takes the sink's secret", () => {
    for (const NODE_ENV of ['development', 'test']) {
      expect(() => loadConfig({ NODE_ENV, WECHAT_APP_ID: WECHAT.WECHAT_APP_ID })).toThrow(ConfigError);
      expect(() => loadConfig({ NODE_ENV, WECHAT_APP_ID: WECHAT.WECHAT_APP_ID })).toThrow(
        "WECHAT_APP_SECRET: required when WECHAT_APP_ID is set to an app other than the local sink's",
      );
      expect(loadConfig({ NODE_ENV, ...WECHAT }).wechat).toMatchObject(WECHAT_SETTINGS);
      expect(loadConfig({ NODE_ENV, WECHAT_APP_ID: 'wx00000000000000dev' }).wechat).toMatchObject({ appId: 'wx00000000000000dev', appSecret: 'local-wechat-sink-secret' });
    }
  });

  it.each(['api/main.ts', 'worker/main.ts'])('%s exits 1 with the reason, before connecting to anything', async (entry) => {
    // Unreachable peers: if the process got past its config it would hang connecting, not exit at once.
    const env = { PATH: process.env.PATH, NODE_ENV: 'production', DATABASE_URL: 'postgresql://nobody@127.0.0.1:9/none', TEMPORAL_ADDRESS: '127.0.0.1:9' };
    const child = spawn(path.join(root, 'node_modules/.bin/tsx'), [entry], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr).toContain('refusing to start with NODE_ENV=production: TWILIO_AUTH_TOKEN is not set; WEBHOOK_SECRET is not set');
    expect(stderr).not.toContain('    at '); // a clear message, not a stack trace
  });
});
