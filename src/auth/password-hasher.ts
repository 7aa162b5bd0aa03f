import { Inject, Injectable } from '@nestjs/common';
import argon2 from 'argon2';
import { isPinHash, verifyPinHash } from '../accounts/account-batches.pins';
import { APP_CONFIG, AppConfig } from '../config/config';

/** argon2id (the `argon2` package) for web passwords and API-key secrets. */
@Injectable()
export class PasswordHasher {
  private readonly options: { type: 2; memoryCost: number; timeCost: number; parallelism: number };
  private dummyHash?: Promise<string>;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.options = {
      type: argon2.argon2id as 2,
      memoryCost: config.PASSWORD_HASH_MEMORY_KIB,
      timeCost: config.PASSWORD_HASH_ITERATIONS,
      parallelism: 1,
    };
  }

  hash(secret: string): Promise<string> {
    return argon2.hash(secret, this.options);
  }

  async verify(hash: string, secret: string): Promise<boolean> {
    // Prepaid-card accounts' PINs have a cheaper salted hash of their own (account-batches.pins.ts),
    // checked in the time of an argon2 check all the same: a card's username must not be told
    // from an unknown one by how fast the 401 comes.
    if (isPinHash(hash)) {
      const ok = verifyPinHash(hash, secret);
      await this.verifyNothing(secret);
      return ok;
    }
    try {
      return await argon2.verify(hash, secret);
    } catch {
      return false;
    }
  }

  /** Spends the same time as a real check, so an unknown login cannot be told by timing. */
  async verifyNothing(secret: string): Promise<false> {
    this.dummyHash ??= this.hash('canopy-timing-equaliser');
    await this.verify(await this.dummyHash, secret);
    return false;
  }
}
