import { Inject, Injectable } from '@nestjs/common';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Caller } from '../tree/caller';
import { AccessTokenClaims, CallerResolver } from './caller.resolver';
import { JwtSecret } from './jwt-secret';

export const JWT_ALGORITHM = 'HS256';

/** Three base64url parts, the signature not empty (an unsigned token is refused). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** `Authorization: <scheme> <token>`, read as passport-jwt's fromAuthHeaderAsBearerToken did. */
const AUTHORIZATION = /(\S+)\s+(\S+)/;
const ID = /^[0-9a-f-]{36}$/;

type Claims = AccessTokenClaims & { exp?: unknown; nbf?: unknown; iss?: unknown; aud?: unknown };

function decodeJson(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Access-token verification: HS256 only (the header must say so), signature compared in
 * constant time, then `nbf`, `exp` (required), `aud` and `iss`, exactly the checks
 * passport-jwt and jsonwebtoken made before, without their per-request machinery (a
 * passport strategy per request, a promise around its callbacks, a key lookup callback),
 * which cost more than the checks themselves. The claims then name the Caller.
 */
@Injectable()
export class JwtStrategy {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly secret: JwtSecret,
    private readonly callers: CallerResolver,
  ) {}

  /**
   * The Caller of a request with this Authorization header, or null (a 401). Throws only
   * when resolving the caller fails (e.g. the database is past its bounds).
   */
  async authenticate(authorization: string | undefined): Promise<Caller | null> {
    const header = typeof authorization === 'string' ? AUTHORIZATION.exec(authorization) : null;
    if (!header || header[1].toLowerCase() !== 'bearer') return null;
    const claims = await this.verify(header[2]);
    return claims ? this.validate(claims) : null;
  }

  /** The token's claims when it is ours, signed, current and meant for us; else null. */
  async verify(token: string): Promise<Claims | null> {
    if (!COMPACT_JWS.test(token)) return null;
    const [head, body, signature] = token.split('.');
    const header = decodeJson(head);
    if (!isObject(header) || header.alg !== JWT_ALGORITHM) return null;
    const expected = createHmac('sha256', await this.secret.verificationKey()).update(`${head}.${body}`).digest('base64url');
    if (expected.length !== signature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) return null;
    const claims = decodeJson(body);
    if (!isObject(claims)) return null;
    const now = Math.floor(Date.now() / 1000);
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > now)) return null;
    // A token without `exp` would never expire.
    if (typeof claims.exp !== 'number' || now >= claims.exp) return null;
    const audiences = Array.isArray(claims.aud) ? (claims.aud as unknown[]) : [claims.aud];
    if (!audiences.includes(this.config.JWT_AUDIENCE) || claims.iss !== this.config.JWT_ISSUER) return null;
    return claims as unknown as Claims;
  }

  private async validate(claims: Claims): Promise<Caller | null> {
    if (typeof claims.sub !== 'string' || !ID.test(claims.sub) || typeof claims.ver !== 'number') return null;
    if (claims.kid !== undefined && (typeof claims.kid !== 'string' || !ID.test(claims.kid))) return null;
    return this.callers.resolve(claims);
  }
}
