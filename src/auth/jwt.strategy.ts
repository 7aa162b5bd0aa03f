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

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    secret: JwtSecret,
    private readonly callers: CallerResolver,
  ) {
    this.strategy = new Strategy(
      {
        jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
        algorithms: [JWT_ALGORITHM],
        issuer: config.JWT_ISSUER,
        audience: config.JWT_AUDIENCE,
        ignoreExpiration: false,
        // A KeyObject (which jsonwebtoken accepts, though passport-jwt's types say string | Buffer).
        secretOrKeyProvider: (_request: unknown, _token: unknown, done: (error: unknown, key?: string | Buffer) => void) => {
          secret.verificationKey().then((key) => done(null, key as unknown as Buffer), done);
        },
      },
      (claims: Claims, done: (error: unknown, user?: Caller | false) => void) => {
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
    return new Promise<Caller | null>((resolve, reject) => {
      const call = Object.create(this.strategy) as StrategyCallbacks;
      call.success = (user) => resolve(user as Caller);
      call.fail = () => resolve(null);
      call.error = reject;
      call.authenticate({ headers: { authorization } } as unknown as FastifyRequest, {});
    });
  }

  private async validate(claims: Claims): Promise<Caller | null> {
    // jsonwebtoken checks exp only when present: a token without one would never expire.
    if (typeof claims.exp !== 'number') return null;
    if (typeof claims.sub !== 'string' || !ID.test(claims.sub) || typeof claims.ver !== 'number') return null;
    if (claims.kid !== undefined && (typeof claims.kid !== 'string' || !ID.test(claims.kid))) return null;
    if (claims.knd !== undefined && claims.knd !== 'account') return null;
    return this.callers.resolve(claims);
  }
}
