// A real, independent OpenID provider (panva/oidc-provider, pinned in
// package-lock.json) for OrgStack's end-to-end tests. Configured by
// environment; prints "ready <issuer>" on stdout once it listens.
//
//   IDP_PORT       port (required)
//   IDP_HOST       address to listen on (default 127.0.0.1; 0.0.0.0 in a container)
//   IDP_ISSUER     issuer (default http://127.0.0.1:$IDP_PORT)
//   IDP_AUDIENCE   the API's resource identifier (default https://api.orgstack.test)
//   IDP_ALG        RS256 (default) or ES256: the signing key and JWT access-token algorithm
//   IDP_AUD_SHAPE  string (default) or array: aud of JWT access tokens ([audience, another])
//   IDP_ORG_SHAPE  flat (default: "org_id": "acme") or nested
//                  ("https://orgstack.test/claims": {"org": "acme"})
//   IDP_ORG        the organization claim's value (default acme)
//   IDP_GROUPS     comma-separated values of a "groups" claim in every access
//                  token (default: no groups claim), for role mappings
//
// Clients (client_credentials, client_secret_basic; secret = id + "-secret"):
//   app         JWT access tokens, no organization claim
//   app-bound   JWT access tokens with the organization claim
//   app-opaque  OPAQUE access tokens with the organization claim
//   orgstack    the resource server: the only client allowed to introspect
//               other clients' tokens (POST /token/introspection)
// Every token carries email = <client>@clients.orgstack.test. Clients may
// revoke their own tokens (POST /token/revocation).
import { generateKeyPairSync } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const PORT = Number(process.env.IDP_PORT);
if (!PORT) throw new Error('IDP_PORT is required');
const ISSUER = process.env.IDP_ISSUER ?? `http://127.0.0.1:${PORT}`;
const AUDIENCE = process.env.IDP_AUDIENCE ?? 'https://api.orgstack.test';
const ALG = process.env.IDP_ALG ?? 'RS256';
const AUD_SHAPE = process.env.IDP_AUD_SHAPE ?? 'string';
const ORG_SHAPE = process.env.IDP_ORG_SHAPE ?? 'flat';
const ORG = process.env.IDP_ORG ?? 'acme';
const GROUPS = process.env.IDP_GROUPS ? process.env.IDP_GROUPS.split(',') : null;

const { privateKey } = ALG === 'ES256'
  ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
  : ALG === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : (() => { throw new Error(`IDP_ALG ${ALG}`); })();
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: `e2e-${ALG.toLowerCase()}`, use: 'sig', alg: ALG };

const client = (id, extra = {}) => ({
  client_id: id, client_secret: `${id}-secret`, grant_types: ['client_credentials'],
  redirect_uris: [], response_types: [], scope: 'orgs:read orgs:write', ...extra,
});
const withOrg = new Set(['app-bound', 'app-opaque']);

const provider = new Provider(ISSUER, {
  jwks: { keys: [jwk] },
  scopes: ['openid', 'orgs:read', 'orgs:write'],
  clientDefaults: { id_token_signed_response_alg: ALG },
  clients: [client('app'), client('app-bound'), client('app-opaque'), client('orgstack')],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    introspection: {
      enabled: true,
      // Only the resource server may learn about other clients' tokens.
      allowedPolicy: (ctx, caller, token) => caller.clientId === 'orgstack' || caller.clientId === token.clientId,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => AUDIENCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource, c) => {
        if (resource !== AUDIENCE) throw new errors.InvalidTarget();
        const opaque = c.clientId === 'app-opaque';
        return {
          scope: 'orgs:read orgs:write', audience: AUDIENCE, accessTokenTTL: 300,
          accessTokenFormat: opaque ? 'opaque' : 'jwt',
          ...(opaque ? {} : { jwt: { sign: { alg: ALG } } }),
        };
      },
    },
  },
  formats: {
    customizers: {
      jwt: (ctx, token, jwt) => {
        if (AUD_SHAPE === 'array') jwt.payload.aud = [AUDIENCE, 'https://other.orgstack.test'];
      },
    },
  },
  extraTokenClaims: (ctx, token) => {
    const claims = { email: `${token.clientId}@clients.orgstack.test` };
    if (GROUPS) claims.groups = GROUPS;
    if (withOrg.has(token.clientId)) {
      if (ORG_SHAPE === 'nested') claims['https://orgstack.test/claims'] = { org: ORG };
      else claims.org_id = ORG;
    }
    return claims;
  },
});
provider.listen(PORT, process.env.IDP_HOST ?? '127.0.0.1', () => console.log(`ready ${ISSUER}`));
