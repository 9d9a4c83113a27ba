// Points the official `twilio` client at a Twilio-compatible server (the local sink in dev and tests, a mock or a
// proxy elsewhere): the client builds https://api.twilio.com/... URIs, and this http client swaps that origin for
// the configured base URL before sending. Everything else (auth, form encoding, RestException on 4xx/5xx) is the
// library's own code.
//
// Note: when a custom httpClient is given, the `twilio(sid, token, { autoRetry, timeout, ... })` options that
// configure the library's own RequestClient are ignored; pass them here instead. Its defaults: no retry of 429
// (autoRetry false), 30 s timeout.
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';

type RequestClientOptions = RequestClient.RequestClientOptions;

class RebasedRequestClient extends twilio.RequestClient {
  readonly #base: URL;

  constructor(baseUrl: string, opts?: RequestClientOptions) {
    super(opts);
    this.#base = new URL(baseUrl);
    if (this.#base.protocol !== 'http:' && this.#base.protocol !== 'https:') throw new Error(`twilio base URL must be http(s), got ${baseUrl}`);
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    return super.request<TData>({ ...opts, uri: this.rebase(opts.uri) });
  }

  /** https://api.twilio.com/2010-04-01/... → <base>/2010-04-01/... (any *.twilio.com host, e.g. with an edge). */
  rebase(uri: string): string {
    const original = new URL(uri);
    if (original.protocol !== 'https:' || !/(^|\.)twilio\.com$/.test(original.hostname)) return uri;
    const target = new URL(this.#base.href);
    target.pathname = `${this.#base.pathname.replace(/\/+$/, '')}${original.pathname}`;
    target.search = original.search;
    return target.href;
  }
}

export function twilioHttpClient(baseUrl: string, opts?: RequestClientOptions): RebasedRequestClient {
  return new RebasedRequestClient(baseUrl, opts);
}

export type { RebasedRequestClient };
