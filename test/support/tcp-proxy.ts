// A TCP proxy in front of a real peer (Postgres, Temporal), to take the peer away from the service under test without
// stopping it for anyone else: `refuse` closes the port (connection refused), `hang` accepts connections and never
// answers (a stalled host), `open` forwards again on the same port. Existing connections are cut on every change.
import net from 'node:net';

export type ProxyMode = 'open' | 'refuse' | 'hang';

export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private server: net.Server | undefined;
  private mode: ProxyMode = 'open';

  private constructor(
    private readonly target: { host: string; port: number },
    public port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target, 0);
    await proxy.open();
    return proxy;
  }

  /** host:port the service under test connects to. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async open(): Promise<void> {
    this.cut();
    this.mode = 'open';
    await this.listen();
  }

  async hang(): Promise<void> {
    this.cut();
    this.mode = 'hang';
    await this.listen();
  }

  async refuse(): Promise<void> {
    this.cut();
    this.mode = 'refuse';
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async close(): Promise<void> {
    await this.refuse();
  }

  private track(s: net.Socket) {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => s.destroy());
  }

  private cut() {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  private async listen(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => {
      this.track(client);
      if (this.mode !== 'open') return; // hang: held open, never answered
      const upstream = net.connect(this.target.port, this.target.host);
      this.track(upstream);
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }
}
