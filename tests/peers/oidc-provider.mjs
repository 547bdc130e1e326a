// An OpenID Provider for the SSO tests: the certified `oidc-provider` package on loopback, with one static
// client, `email`, `name` and `groups` claims in the id_token, and its development login and consent pages.
//
// usage: node oidc-provider.mjs <port> <redirect_uri> <accounts.json>
// accounts.json maps a login name to its claims ({"email": …, "name": …, "groups": […]}); it is read at every
// sign-in, so a test can change someone's groups between two sign-ins. Any password is accepted.
// Prints {"issuer": …} once listening. Each start makes a new signing key, so a restart rotates the keys.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import Provider from 'oidc-provider';

const [port, redirectUri, accountsFile] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

// A fresh RSA key and key id at each start: restarting the provider rotates its signing key.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  clients: [
    {
      client_id: 'concierge',
      client_secret: 'concierge-test-secret-0123456789',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['concierge-test-cookie-key'] },
  findAccount: async (ctx, id) => {
    const accounts = JSON.parse(fs.readFileSync(accountsFile, 'utf8'));
    const account = accounts[id];
    if (!account) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, email_verified: true, ...account }) };
  },
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(JSON.stringify({ issuer }));
});
