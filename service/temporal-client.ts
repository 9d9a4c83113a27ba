// The Temporal client the service uses (the API, and the worker's chorus activities): every call it makes carries a
// deadline, so an unreachable or stalled Temporal is an error in seconds (503 at the API), never a request that
// hangs while the client retries; and the connection is lazy, so the API starts, and says it is not ready, while
// Temporal is down.
import { Client, Connection, type TLSConfig, type WorkflowClientInterceptor } from '@temporalio/client';
import type { TemporalSecurity } from '../config/config.js';
import { dataConverterFor, type PayloadKeys } from './payload-codec.js';

export interface TemporalClientOptions extends TemporalSecurity {
  address: string;
  namespace: string;
  /** Deadline of each call to Temporal, the client's own retries included (default 2.5 s). */
  callTimeoutMs?: number;
  /** Payload encryption (every client and worker of the service shares the keys); undefined: payloads travel plain. */
  payloadKeys?: PayloadKeys | undefined;
}

/** The address, TLS and API key of a connection to Temporal, as both the client's Connection and the worker's
 * NativeConnection take them (the SDK's own options). */
export function temporalConnectionOptions(o: { address: string } & TemporalSecurity): { address: string; tls?: TLSConfig; apiKey?: string } {
  const bytes = (pem: string) => new TextEncoder().encode(pem);
  const tls = o.tls && {
    ...(o.tls.serverNameOverride !== undefined ? { serverNameOverride: o.tls.serverNameOverride } : {}),
    ...(o.tls.serverRootCACertificate !== undefined ? { serverRootCACertificate: bytes(o.tls.serverRootCACertificate) } : {}),
    ...(o.tls.clientCertPair ? { clientCertPair: { crt: bytes(o.tls.clientCertPair.crt), key: bytes(o.tls.clientCertPair.key) } } : {}),
  };
  return { address: o.address, ...(tls ? { tls } : {}), ...(o.apiKey !== undefined ? { apiKey: o.apiKey } : {}) };
}

/** Runs every workflow call (start, signal, query, describe, …) under a deadline; the SDK retries within it. */
export function deadlineInterceptor(connection: Connection, callTimeoutMs: number): WorkflowClientInterceptor {
  const within = <T>(call: () => Promise<T>) => connection.withDeadline(Date.now() + callTimeoutMs, call);
  return {
    startWithDetails: (input, next) => within(() => next(input)),
    signal: (input, next) => within(() => next(input)),
    signalWithStart: (input, next) => within(() => next(input)),
    query: (input, next) => within(() => next(input)),
    describe: (input, next) => within(() => next(input)),
    terminate: (input, next) => within(() => next(input)),
    cancel: (input, next) => within(() => next(input)),
    startUpdate: (input, next) => within(() => next(input)),
    startUpdateWithStart: (input, next) => within(() => next(input)),
  };
}

export interface TemporalClient {
  connection: Connection;
  client: Client;
  /** Runs calls made directly on the connection (a health check) under the same deadline. */
  withDeadline<T>(call: () => Promise<T>): Promise<T>;
}

export function createTemporalClient(o: TemporalClientOptions): TemporalClient {
  const callTimeoutMs = o.callTimeoutMs ?? 2_500;
  const connection = Connection.lazy({
    ...temporalConnectionOptions(o),
    connectTimeout: callTimeoutMs,
    // Once Temporal is back, the channel reconnects within seconds (gRPC's default backoff grows to two minutes).
    channelArgs: { 'grpc.initial_reconnect_backoff_ms': 500, 'grpc.max_reconnect_backoff_ms': 5_000 },
  });
  const client = new Client({
    connection,
    namespace: o.namespace,
    dataConverter: dataConverterFor(o.payloadKeys),
    interceptors: { workflow: [deadlineInterceptor(connection, callTimeoutMs)] },
  });
  return { connection, client, withDeadline: (call) => connection.withDeadline(Date.now() + callTimeoutMs, call) };
}
