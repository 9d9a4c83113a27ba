// Sign-in through the identity provider: the authorization-code flow with PKCE, all in the browser (a public client;
// no secret). The issuer's discovery document names the endpoints; the access token is kept for this tab only.
const KEY = 'console.oidc';

const b64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
const redirectUri = () => `${location.origin}/console/`;

async function discover(issuer) {
  const res = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  if (!res.ok) throw new Error(`discovery answered ${res.status}`);
  return res.json();
}

/** Leaves for the identity provider's sign-in page. */
export async function startSignIn(oidc) {
  const meta = await discover(oidc.issuer);
  const verifier = random(48);
  const state = random(16);
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(KEY, JSON.stringify({ verifier, state, tokenEndpoint: meta.token_endpoint }));
  const url = new URL(meta.authorization_endpoint);
  const q = { response_type: 'code', client_id: oidc.clientId, redirect_uri: redirectUri(), scope: oidc.scopes, state, code_challenge: challenge, code_challenge_method: 'S256' };
  if (oidc.audience) q.audience = oidc.audience; // providers that issue JWT access tokens per API ask for it
  for (const [k, v] of Object.entries(q)) url.searchParams.set(k, v);
  location.assign(url.toString());
}

/** Back from the identity provider with `?code=…&state=…`: trades the code for an access token (or undefined when
 * this page load is not such a return). */
export async function finishSignIn(oidc) {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  const pending = JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
  if (!code || !pending) return undefined;
  sessionStorage.removeItem(KEY);
  history.replaceState(null, '', `${location.pathname}${location.hash}`);
  if (params.get('state') !== pending.state) throw new Error('the sign-in answer does not match the request (state)');
  const res = await fetch(pending.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri(), client_id: oidc.clientId, code_verifier: pending.verifier }),
  });
  if (!res.ok) throw new Error(`the token endpoint answered ${res.status}`);
  const { access_token: token } = await res.json();
  if (typeof token !== 'string') throw new Error('no access token in the answer');
  return token;
}
