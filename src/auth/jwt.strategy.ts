import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Caller } from '../tree/caller';
import { AccessTokenClaims, CallerResolver } from './caller.resolver';
import { JwtSecret } from './jwt-secret';

export const JWT_ALGORITHM = 'HS256';

/** passport-jwt with one pinned algorithm and `iss`/`aud`/`exp` checks. */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    secret: JwtSecret,
    private readonly callers: CallerResolver,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      algorithms: [JWT_ALGORITHM],
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      ignoreExpiration: false,
      // A KeyObject (which jsonwebtoken accepts, though passport-jwt's types say string | Buffer).
      secretOrKeyProvider: (_req: unknown, _token: unknown, done: (err: unknown, key?: string | Buffer) => void) => {
        secret.verificationKey().then((key) => done(null, key as unknown as Buffer), done);
      },
    });
  }

  async validate(claims: AccessTokenClaims & { exp?: unknown }): Promise<Caller | false> {
    // jsonwebtoken checks exp only when present: a token without one would never expire.
    if (typeof claims.exp !== 'number') return false;
    if (typeof claims.sub !== 'string' || !/^[0-9a-f-]{36}$/.test(claims.sub) || typeof claims.ver !== 'number') {
      return false;
    }
    if (claims.kid !== undefined && (typeof claims.kid !== 'string' || !/^[0-9a-f-]{36}$/.test(claims.kid))) return false;
    return (await this.callers.resolve(claims)) ?? false;
  }
}
