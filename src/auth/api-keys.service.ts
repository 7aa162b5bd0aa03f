import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Page } from '../common/pagination';
import { ForbiddenProblem, ValidationProblem } from '../common/problem/problem';
import { requireAccess } from '../database/access';
import { Writes } from '../database/writes';
import { ALL_PERMISSIONS, isPermission } from '../permissions/permission.catalogue';
import { Caller, requirePermission } from '../tree/caller';
import { ApiKeyRow, ApiKeysRepository } from './api-keys.repository';
import { ApiKeyDto, CreateApiKeyDto, CreatedApiKeyDto } from './dto/api-key.dto';
import { PasswordHasher } from './password-hasher';
import { RefreshTokensRepository } from './refresh-tokens.repository';
import { isoTime } from '../common/iso-time';

const KEY_PATTERN = /^cnp_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toDto(row: ApiKeyRow): ApiKeyDto {
  return {
    id: row.id,
    name: row.name,
    prefix: `cnp_${row.prefix}`,
    permissions: row.permissions,
    expiresAt: iso(row.expires_at),
    lastUsedAt: iso(row.last_used_at),
    createdAt: isoTime(row.created_at),
  };
}

function randomAlphanumeric(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length * 2);
  let out = '';
  for (let i = 0; out.length < length; i++) {
    if (bytes[i] < 248) out += alphabet[bytes[i] % 62];
  }
  return out;
}

/** API keys: the secret is shown once and stored as an argon2id hash; lookup by prefix. */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly refreshTokens: RefreshTokensRepository,
    private readonly hasher: PasswordHasher,
    private readonly writes: Writes,
  ) {}

  async create(caller: Caller, input: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    requirePermission(caller, 'api-keys.manage');
    // Omitted: all of the creator's rights, now and later — but a key session hands on only
    // its own rights, or a restricted key could mint an unrestricted one.
    const requested = input.permissions ?? (caller.authMethod === 'api-key' ? ALL_PERMISSIONS.filter((p) => caller.permissions.has(p)) : null);
    const permissions = requested ? [...new Set(requested)] : null;
    for (const p of permissions ?? []) {
      if (!isPermission(p) || !caller.permissions.has(p)) throw new ForbiddenProblem(p);
    }
    const expiresAt = input.expiresAt ? new Date(input.expiresAt) : null;
    if (expiresAt && expiresAt.getTime() <= Date.now()) {
      throw new ValidationProblem([{ pointer: '/expiresAt', detail: 'expiresAt must be in the future' }]);
    }
    const prefix = randomAlphanumeric(12);
    const secret = randomBytes(32).toString('base64url');
    const secretHash = await this.hasher.hash(secret);
    const key = await this.writes.change(caller.customerId, async (tx) => {
      const dto = toDto(await this.keys.insert(caller, tx, { name: input.name, prefix, secretHash, permissions, expiresAt }));
      return {
        result: dto,
        audit: { action: 'api-key.create', targetType: 'api-key', targetId: dto.id, subjectPath: caller.path, after: { ...dto, apiKey: '***' } },
      };
    });
    return { ...key, apiKey: `cnp_${prefix}_${secret}` };
  }

  list(caller: Caller, limit: number, cursor?: string): Promise<Page<ApiKeyDto>> {
    return this.keys.pageLive(caller, limit, cursor, toDto);
  }

  async revoke(caller: Caller, id: string): Promise<void> {
    await this.writes.change(caller.customerId, async (tx) => {
      // Locked: of two concurrent revocations, the second finds no live key (404).
      const key = await requireAccess(this.keys, caller, id, { permission: 'api-keys.manage', what: 'API key', tx, lock: 'FOR UPDATE' });
      await this.keys.revoke(caller, tx, id);
      await this.refreshTokens.revokeOwn(caller, { apiKeyId: id, tx });
      return {
        result: undefined,
        audit: { action: 'api-key.revoke', targetType: 'api-key', targetId: id, subjectPath: caller.path, before: { ...toDto(key) }, after: null },
      };
    });
  }

  /**
   * The key's owner when the secret is right, the key live and its owner not (effectively)
   * suspended; `suspended` when the secret is right but the owner or an ancestor is suspended
   * (not a guess: the caller refuses it without counting a failure); else null.
   */
  async verify(apiKey: string): Promise<{ id: string; customerId: string; authEpoch: number } | 'suspended' | null> {
    const match = KEY_PATTERN.exec(apiKey);
    if (!match) return null;
    const key = await this.keys.unscopedFindForExchange(match[1]);
    if (!key) {
      await this.hasher.verifyNothing(match[2]);
      return null;
    }
    if (!(await this.hasher.verify(key.secret_hash, match[2]))) return null;
    if (key.suspended) return 'suspended';
    await this.keys.unscopedTouch(key.id);
    return { id: key.id, customerId: key.customer_id, authEpoch: key.auth_epoch };
  }
}
