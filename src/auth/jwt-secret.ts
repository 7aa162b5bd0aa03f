import { Inject, Injectable } from '@nestjs/common';
import { createSecretKey, KeyObject, randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/config';

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
    private readonly dataSource: DataSource,
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

  private async fromDatabase(): Promise<string> {
    await this.dataSource.query(
      `INSERT INTO system_secrets (name, value) VALUES ('jwt_secret', $1) ON CONFLICT (name) DO NOTHING`,
      [randomBytes(48).toString('base64url')],
    );
    const rows: Array<{ value: string }> = await this.dataSource.query(
      `SELECT value FROM system_secrets WHERE name = 'jwt_secret'`,
    );
    return rows[0].value;
  }
}
