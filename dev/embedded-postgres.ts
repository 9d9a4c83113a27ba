// An embedded Postgres for development and tests: PGlite (Postgres compiled to WASM) persisted in a folder and
// served over TCP, so ordinary clients (`pg`, Prisma's adapter-pg, psql) connect with a postgresql:// URL.
//
// Why not PGLiteSocketServer from @electric-sql/pglite-socket (0.2.17)? PGlite is ONE backend session.
// pglite-socket accepts `maxConnections` sockets (default 1; extra sockets get "Too many connections" and are
// closed) and feeds every protocol message of every socket through one FIFO queue. It keeps a socket exclusive
// only inside BEGIN…COMMIT; outside that it interleaves per *message*. When a client's Parse/Bind/Execute/Sync
// batch arrives in more than one TCP read (parameters over ~64 KB), another socket's Parse/Bind can run in
// between and the first socket's Bind/Execute then act on the other socket's unnamed statement. Reproduced: with
// maxConnections 5 and a pg.Pool of 5, inserting 300 KB jsonb rows while other connections run small queries
// fails with `invalid input syntax for type integer` (a value bound to the wrong statement). With one socket it is
// correct, but then a second pool (the worker and the API each have one) cannot connect at all.
//
// This server multiplexes correctly: a connection holds the backend from its first message until the backend is
// idle again, i.e. after a Sync or simple Query (or the startup message) that leaves no transaction open. So a
// whole extended-protocol cycle, and a whole BEGIN…COMMIT, run without other connections' messages in between.
// Remaining differences from a real Postgres, since all connections share one session:
// - Everything is serialised; an idle-in-transaction connection blocks all the others until it ends.
// - Session state is shared: SET, temp tables, named prepared statements, LISTEN, and session advisory locks
//   (`pg_advisory_lock` taken on one connection is re-entrant from every other: it does not exclude them).
import { mkdirSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';

export type EmbeddedPostgres = {
  /** postgresql://postgres@HOST:PORT/postgres — any user, password and database name are accepted. */
  url: string;
  port: number;
  close(): Promise<void>;
};

export type EmbeddedPostgresOptions = {
  /** Folder holding the database files; created if missing. */
  dataDir: string;
  /** TCP port; 0 or undefined picks a free one. */
  port?: number;
  host?: string;
  /** Connections accepted at once (default 32); more are refused with a Postgres error. */
  maxConnections?: number;
  log?: (msg: string) => void;
};

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
// Sync: makes the backend leave an aborted extended-protocol cycle when its owner vanished mid-way.
const SYNC_MESSAGE = new Uint8Array([0x53, 0, 0, 0, 4]);

// kind: 'startup', 'cleanup' (the connection went away), or the message's type byte.
type Job = { conn: Conn; message: Uint8Array; kind: 'startup' | 'cleanup' | number };

type Conn = { id: number; socket: Socket; closed: boolean };

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const host = opts.host ?? '127.0.0.1';
  const maxConnections = opts.maxConnections ?? 32;
  const log = opts.log ?? (() => {});
  const db = await PGlite.create({ dataDir });

  const conns = new Set<Conn>();
  const queue: Job[] = [];
  let owner: Conn | null = null; // the connection the backend is reserved for, between messages
  let running = false;
  let nextId = 1;

  const pump = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      for (;;) {
        const index = owner ? queue.findIndex((j) => j.conn === owner) : 0;
        if (index < 0 || queue.length === 0) return;
        const [job] = queue.splice(index, 1);
        if (!job) return;
        await run(job);
      }
    } finally {
      running = false;
    }
  };

  const run = async (job: Job): Promise<void> => {
    const { conn } = job;
    if (job.kind === 'cleanup') return cleanup(conn);
    if (conn.closed) return;
    try {
      await db.runExclusive(() =>
        db.execProtocolRawStream(job.message, {
          onRawData: (data) => {
            if (!conn.closed && data.length > 0) conn.socket.write(Buffer.from(data));
          },
        }),
      );
    } catch (err) {
      log(`embedded-postgres: connection #${conn.id}: ${(err as Error).message}`);
      owner = conn;
      conn.socket.destroy(); // its 'close' queues the cleanup
      return;
    }
    // 'S' Sync and 'Q' Query (and the startup message) end with ReadyForQuery: the cycle is over.
    const cycleOver = job.kind === 'startup' || job.kind === 0x53 || job.kind === 0x51;
    owner = cycleOver && !db.isInTransaction() ? null : conn;
  };

  // A connection went away: drop its queued messages and queue its cleanup, which runs in turn like a message.
  const release = (conn: Conn): void => {
    if (conn.closed) return;
    conn.closed = true;
    conns.delete(conn);
    for (let i = queue.length - 1; i >= 0; i--) if (queue[i]?.conn === conn) queue.splice(i, 1);
    queue.push({ conn, message: SYNC_MESSAGE, kind: 'cleanup' });
    void pump();
  };

  // If the gone connection held the backend, put it back to idle: end a half-done extended-protocol cycle and
  // roll back an open transaction.
  const cleanup = async (conn: Conn): Promise<void> => {
    if (owner !== conn) return;
    try {
      await db.runExclusive(() => db.execProtocolRawStream(SYNC_MESSAGE, { onRawData: () => {} }));
      if (db.isInTransaction()) await db.exec('ROLLBACK');
    } catch (err) {
      log(`embedded-postgres: cleanup after connection #${conn.id}: ${(err as Error).message}`);
    }
    owner = null;
  };

  const sockets = new Set<Socket>(); // every accepted socket, refused ones included, so close() can end them
  const accept = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    if (conns.size >= maxConnections) {
      socket.end(errorResponse('53300', `sorry, too many clients already (embedded server max ${maxConnections})`));
      return;
    }
    const conn: Conn = { id: nextId++, socket, closed: false };
    conns.add(conn);
    let buffer: Buffer = Buffer.alloc(0);
    let started = false;
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          const message = buffer.subarray(0, length);
          buffer = buffer.subarray(length);
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
            socket.write('N'); // no encryption; the client continues in clear text
            continue;
          }
          if (code === CANCEL_REQUEST) {
            socket.end(); // nothing to cancel in a single-session backend
            return;
          }
          started = true;
          queue.push({ conn, message: new Uint8Array(message), kind: 'startup' });
          continue;
        }
        if (buffer.length < 5) break;
        const type = buffer[0] as number;
        const length = 1 + buffer.readInt32BE(1);
        if (buffer.length < length) break;
        const message = buffer.subarray(0, length);
        buffer = buffer.subarray(length);
        if (type === 0x58) {
          socket.end(); // Terminate
          return;
        }
        queue.push({ conn, message: new Uint8Array(message), kind: type });
      }
      void pump();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => release(conn));
  };

  const server = createServer(accept);
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolvePromise();
    });
  }).catch(async (err: unknown) => {
    await db.close();
    throw err;
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 0);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  log(`embedded-postgres: serving ${dataDir} on ${host}:${port}`);

  let closing: Promise<void> | undefined;
  return {
    url: `postgresql://postgres@${urlHost}:${port}/postgres`,
    port,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((r) => server.close(() => r()));
        for (const socket of sockets) socket.destroy();
        await closed;
        // Let the releases triggered by the destroyed sockets finish before the database goes away.
        while (running || conns.size > 0 || queue.length > 0) await new Promise((r) => setImmediate(r));
        await db.close();
      })();
      return closing;
    },
  };
}

/** A Postgres ErrorResponse message (severity FATAL) with the given SQLSTATE. */
function errorResponse(sqlState: string, message: string): Buffer {
  const fields = Buffer.concat([field('S', 'FATAL'), field('V', 'FATAL'), field('C', sqlState), field('M', message), Buffer.from([0])]);
  const header = Buffer.alloc(5);
  header.write('E', 0, 'ascii');
  header.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([header, fields]);
}

function field(code: string, value: string): Buffer {
  return Buffer.concat([Buffer.from(code, 'ascii'), Buffer.from(value, 'utf8'), Buffer.from([0])]);
}
