// A port a test may hand to a server it starts a moment later.
//
// `listen(0)` answers a port from the kernel's ephemeral range, the range every outgoing connection (a Postgres pool,
// a gRPC channel, a Temporal dev server's own internal services) also draws from: between the probe closing it and
// the server binding it, any of those can take it ("address already in use"). A port below that range is never given
// out implicitly, so once a bind probe finds it free only another explicit bind can take it; the probe starts at a
// random point so that test files running side by side do not all try the same ports.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOW = 20_000;

function ephemeralStart(): number {
  try {
    const [start] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (start !== undefined && Number.isInteger(start) && start > LOW + 1_000) return start;
  } catch {
    // not Linux: the IANA dynamic range starts at 49152
  }
  return 49_152;
}

const HIGH = ephemeralStart();
const handedOut = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port between ${LOW} and ${HIGH}`);
}
