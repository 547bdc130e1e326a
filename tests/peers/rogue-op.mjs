// A misbehaving OpenID Provider for the SSO tests' negative cases: it speaks the protocol (discovery, JWKS,
// an authorization endpoint that answers at once, a token endpoint that checks the client and PKCE), but the
// id_token it mints has the defect that the control endpoint set: none (a valid token), alg_none,
// other_issuer, wrong_audience, expired, bad_nonce or bad_signature.
//
// usage: node rogue-op.mjs <port> <client_id> <client_secret>
// POST /mode with the mode's name as the body sets the defect for the next tokens.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

const [port, clientId, clientSecret] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey, publicKey } = await generateKeyPair('RS256');
const other = await generateKeyPair('RS256');
const kid = 'rogue-key-1';
const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
const grants = new Map();
let mode = 'none';

const b64url = (buffer) => Buffer.from(buffer).toString('base64url');

async function idToken(grant) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    sub: 'rogue-alice',
    email: 'alice@corp.test',
    email_verified: true,
    name: 'Alice',
    groups: ['admins'],
    nonce: mode === 'bad_nonce' ? 'not-the-nonce' : grant.nonce,
  };
  const iss = mode === 'other_issuer' ? 'http://evil.example' : issuer;
  const aud = mode === 'wrong_audience' ? 'someone-else' : clientId;
  const iat = mode === 'expired' ? now - 7200 : now;
  const exp = mode === 'expired' ? now - 3600 : now + 600;
  if (mode === 'alg_none') {
    const header = b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }));
    const payload = b64url(JSON.stringify({ ...claims, iss, aud, iat, exp }));
    return `${header}.${payload}.`;
  }
  const key = mode === 'bad_signature' ? other.privateKey : privateKey;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid })
    .setIssuer(iss)
    .setAudience(aud)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(key);
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function readBody(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; });
    req.on('end', () => resolve(data));
  });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname === '/.well-known/openid-configuration') {
    return json(res, 200, {
      issuer,
      authorization_endpoint: `${issuer}/auth`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic'],
    });
  }
  if (url.pathname === '/jwks') return json(res, 200, { keys: [jwk] });
  if (url.pathname === '/mode' && req.method === 'POST') {
    mode = (await readBody(req)).trim();
    return json(res, 200, { mode });
  }
  if (url.pathname === '/auth') {
    const code = randomBytes(16).toString('hex');
    grants.set(code, {
      nonce: url.searchParams.get('nonce'),
      challenge: url.searchParams.get('code_challenge'),
      redirect: url.searchParams.get('redirect_uri'),
    });
    const back = new URL(url.searchParams.get('redirect_uri'));
    back.searchParams.set('code', code);
    back.searchParams.set('state', url.searchParams.get('state'));
    res.writeHead(302, { location: back.toString() });
    return res.end();
  }
  if (url.pathname === '/token' && req.method === 'POST') {
    const form = new URLSearchParams(await readBody(req));
    const expected = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
    if (req.headers.authorization !== expected) return json(res, 401, { error: 'invalid_client' });
    const grant = grants.get(form.get('code'));
    grants.delete(form.get('code'));
    if (!grant) return json(res, 400, { error: 'invalid_grant' });
    const challenge = createHash('sha256').update(form.get('code_verifier') || '').digest('base64url');
    if (challenge !== grant.challenge) return json(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
    return json(res, 200, {
      access_token: randomBytes(16).toString('hex'),
      token_type: 'Bearer',
      expires_in: 600,
      id_token: await idToken(grant),
    });
  }
  json(res, 404, { error: 'not_found' });
});

server.listen(Number(port), '127.0.0.1', () => console.log(JSON.stringify({ issuer })));
