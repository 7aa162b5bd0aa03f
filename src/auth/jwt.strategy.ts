import { Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Caller } from '../tree/caller';
import { AccessTokenClaims, CallerResolver } from './caller.resolver';
import { JwtSecret } from './jwt-secret';

export const JWT_ALGORITHM = 'HS256';

const ID = /^[0-9a-f-]{36}$/;

type Claims = AccessTokenClaims & { exp?: unknown };

/** What the strategy is handed per request (passReqToCallback): the header, to key the cache. */
interface TokenRequest {
  headers: { authorization: string };
}

/**
 * Access tokens verified by this instance, keyed by the whole Authorization header: the
 * signature, issuer, audience and `nbf` of a token never change, so a token once verified is
 * verified again for free until its `exp` (checked on every hit, as jsonwebtoken does:
 * expired from the second `exp` on). Whether its caller still holds is not kept here: every
 * request still resolves the caller (the caller cache and its invalidation, SPEC §2). Only
 * valid tokens are kept, at most `size` (oldest first out).
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, { claims: Claims; exp: number }>();

  constructor(
    readonly size: number,
    private readonly now: () => number = () => Date.now(),
  ) {}

  get count(): number {
    return this.entries.size;
  }

  get(authorization: string): Claims | undefined {
    const entry = this.entries.get(authorization);
    if (!entry) return undefined;
    if (Math.floor(this.now() / 1000) >= entry.exp) {
      this.entries.delete(authorization);
      return undefined;
    }
    return entry.claims;
  }

  store(authorization: string, claims: Claims): void {
    if (this.size <= 0 || typeof claims.exp !== 'number') return;
    this.entries.set(authorization, { claims, exp: claims.exp });
    if (this.entries.size > this.size) this.entries.delete(this.entries.keys().next().value!);
  }
}

/** What passport-jwt's strategy calls back with, set per request on an object derived from it. */
interface StrategyCallbacks {
  success(user: unknown): void;
  fail(): void;
  error(error: unknown): void;
  authenticate(request: unknown, options: object): void;
}

/**
 * Access-token verification by passport-jwt (jsonwebtoken underneath): the Bearer token of
 * the Authorization header, HS256 only, signature, `exp`, `nbf`, `aud` and `iss` checked by
 * the library; then the claims name the Caller. The strategy is called directly, as passport
 * itself does (an object derived from the strategy per request, with its three callbacks),
 * without passport's middleware and Nest's AuthGuard around it, which cost more per request
 * than the checks themselves.
 */
@Injectable()
export class JwtStrategy {
  private readonly strategy: Strategy;
  readonly verified: VerifiedTokens;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    secret: JwtSecret,
    private readonly callers: CallerResolver,
  ) {
    this.verified = new VerifiedTokens(config.CALLER_CACHE_SIZE);
    this.strategy = new Strategy(
      {
        jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
        algorithms: [JWT_ALGORITHM],
        issuer: config.JWT_ISSUER,
        audience: config.JWT_AUDIENCE,
        ignoreExpiration: false,
        passReqToCallback: true,
        // A KeyObject (which jsonwebtoken accepts, though passport-jwt's types say string | Buffer).
        secretOrKeyProvider: (_request: unknown, _token: unknown, done: (error: unknown, key?: string | Buffer) => void) => {
          secret.verificationKey().then((key) => done(null, key as unknown as Buffer), done);
        },
      },
      (request: TokenRequest, claims: Claims, done: (error: unknown, user?: Caller | false) => void) => {
        // Verified by the library: kept for the token's next requests, whatever its caller's fate.
        if (wellFormed(claims)) this.verified.store(request.headers.authorization, claims);
        this.validate(claims).then((caller) => done(null, caller ?? false), done);
      },
    );
  }

  /**
   * The Caller of a request with this Authorization header, or null (a 401). Throws only
   * when resolving the caller fails (e.g. the database is past its bounds).
   */
  authenticate(authorization: string | undefined): Promise<Caller | null> {
    if (typeof authorization !== 'string') return Promise.resolve(null);
    const known = this.verified.get(authorization);
    if (known) return this.validate(known);
    return new Promise<Caller | null>((resolve, reject) => {
      const call = Object.create(this.strategy) as StrategyCallbacks;
      call.success = (user) => resolve(user as Caller);
      call.fail = () => resolve(null);
      call.error = reject;
      call.authenticate({ headers: { authorization } } as unknown as FastifyRequest, {});
    });
  }

  private async validate(claims: Claims): Promise<Caller | null> {
    if (!wellFormed(claims)) return null;
    return this.callers.resolve(claims);
  }
}

/** The claims name a caller the way our tokens do. */
function wellFormed(claims: Claims): boolean {
  // jsonwebtoken checks exp only when present: a token without one would never expire.
  if (typeof claims.exp !== 'number') return false;
  if (typeof claims.sub !== 'string' || !ID.test(claims.sub) || typeof claims.ver !== 'number') return false;
  if (claims.kid !== undefined && (typeof claims.kid !== 'string' || !ID.test(claims.kid))) return false;
  if (claims.knd !== undefined && claims.knd !== 'account') return false;
  return true;
}
