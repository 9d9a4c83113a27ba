// The Temporal client the service uses (the API, and the worker's chorus activities): every call it makes carries a
// deadline, so an unreachable or stalled Temporal is an error in seconds (503 at the API), never a request that
// hangs while the client retries; and the connection is lazy, so the API starts, and says it is not ready, while
// Temporal is down.
import { Client, Connection, type WorkflowClientInterceptor } from '@temporalio/client';

export interface TemporalClientOptions {
  address: string;
  namespace: string;
  /** Deadline of each call to Temporal, the client's own retries included (default 2.5 s). */
  callTimeoutMs?: number;
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
    address: o.address,
    connectTimeout: callTimeoutMs,
    // Once Temporal is back, the channel reconnects within seconds (gRPC's default backoff grows to two minutes).
    channelArgs: { 'grpc.initial_reconnect_backoff_ms': 500, 'grpc.max_reconnect_backoff_ms': 5_000 },
  });
  const client = new Client({ connection, namespace: o.namespace, interceptors: { workflow: [deadlineInterceptor(connection, callTimeoutMs)] } });
  return { connection, client, withDeadline: (call) => connection.withDeadline(Date.now() + callTimeoutMs, call) };
}
