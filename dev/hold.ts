// A provider that has received a request and not answered yet: the local sinks (SMTP catcher, Twilio sink, webhook
// sink) pass each accepted request through a Hold before they reply, so a test can kill the sender while the
// provider holds its request open.

export class Hold {
  #holding = false;
  #held: Array<() => void> = [];
  #watchers = new Set<() => void>();

  /** From now on, every accepted request is kept (the provider has it) and not answered until `release()`. */
  start(): void {
    this.#holding = true;
  }

  /** Called by a sink right before it answers: resolves at once unless holding, else at `release()`. */
  gate(): Promise<void> {
    if (!this.#holding) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#held.push(resolve);
      for (const w of this.#watchers) w();
    });
  }

  /** Requests held open right now. */
  get count(): number {
    return this.#held.length;
  }

  /** Resolves once at least `count` requests are held open. */
  waitFor(count: number, timeoutMs = 30_000): Promise<void> {
    if (this.#held.length >= count) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.#held.length < count) return;
        clearTimeout(timer);
        this.#watchers.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#watchers.delete(check);
        reject(new Error(`${this.#held.length} of ${count} requests held after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#watchers.add(check);
    });
  }

  /** Answers every held request (a sender that died meanwhile gets nothing) and stops holding. */
  release(): void {
    this.#holding = false;
    const held = this.#held;
    this.#held = [];
    for (const resolve of held) resolve();
  }
}
