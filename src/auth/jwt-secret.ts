import { Inject, Injectable } from '@nestjs/common';
import { createSecretKey, KeyObject, randomBytes } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../config/config';
import { SystemSecretsRepository } from './system-secrets.repository';

/**
 * JWT_SECRET when configured; otherwise one generated on first use and kept in the
 * database, so that every instance on that database and every restart agree on it.
 */
@Injectable()
export class JwtSecret {
  private secret?: Promise<string>;
  private key?: Promise<KeyObject>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly secrets: SystemSecretsRepository,
  ) {}

  get(): Promise<string> {
    this.secret ??= this.config.JWT_SECRET ? Promise.resolve(this.config.JWT_SECRET) : this.fromDatabase();
    return this.secret;
  }

  /**
   * The secret as a KeyObject, for verifying tokens. jsonwebtoken turns a string secret into
   * a key on every verify, first trying (and failing) to parse it as a public key: that was
   * about half of the CPU time of an authenticated request.
   */
  verificationKey(): Promise<KeyObject> {
    this.key ??= this.get().then((s) => createSecretKey(Buffer.from(s)));
    return this.key;
  }

  private fromDatabase(): Promise<string> {
    return this.secrets.unscopedGetOrCreate('jwt_secret', randomBytes(48).toString('base64url'));
  }
}
