import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { Cursors, cursorTimestamp, Page } from '../common/pagination';
import { ForbiddenProblem, NotFoundProblem, ValidationProblem } from '../common/problem/problem';
import { ALL_PERMISSIONS, isPermission } from '../permissions/permission.catalogue';
import { Caller, requirePermission } from '../tree/caller';
import { ApiKeyDto, CreateApiKeyDto, CreatedApiKeyDto } from './dto/api-key.dto';
import { PasswordHasher } from './password-hasher';
import { pathSuspendedSql } from '../tree/scope';

interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  permissions: string[] | null;
  expires_at: Date | null;
  last_used_at: Date | null;
  created_at: Date;
}

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
    createdAt: row.created_at.toISOString(),
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
    private readonly dataSource: DataSource,
    private readonly hasher: PasswordHasher,
    private readonly audit: AuditService,
    private readonly cursors: Cursors,
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
    const key = await this.dataSource.transaction(async (m) => {
      const rows: ApiKeyRow[] = await m.query(
        `INSERT INTO api_keys (customer_id, name, prefix, secret_hash, permissions, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, name, prefix, permissions, expires_at, last_used_at, created_at`,
        [caller.customerId, input.name, prefix, secretHash, permissions, expiresAt],
      );
      const dto = toDto(rows[0]);
      await this.audit.record(m, {
        actorId: caller.customerId,
        action: 'api-key.create',
        targetType: 'api-key',
        targetId: dto.id,
        subjectPath: caller.path,
        changes: { after: { ...dto, apiKey: '***' } },
      });
      return dto;
    });
    return { ...key, apiKey: `cnp_${prefix}_${secret}` };
  }

  async list(caller: Caller, limit: number, cursor?: string): Promise<Page<ApiKeyDto>> {
    const after = await this.cursors.decode<[string, string]>('api-keys', cursor, ['timestamp', 'uuid']);
    const rows: Array<ApiKeyRow & { cursor_at: string }> = await this.dataSource.query(
      `SELECT id, name, prefix, permissions, expires_at, last_used_at, created_at, ${cursorTimestamp('created_at')} AS cursor_at FROM api_keys
        WHERE customer_id = $1 AND revoked_at IS NULL
          AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
        ORDER BY created_at, id LIMIT $4`,
      [caller.customerId, after?.[0] ?? null, after?.[1] ?? null, limit + 1],
    );
    return this.cursors.page('api-keys', rows, limit, toDto, (r) => [r.cursor_at, r.id]);
  }

  async revoke(caller: Caller, id: string): Promise<void> {
    const rows: unknown[] = await this.dataSource.query(
      `SELECT 1 FROM api_keys WHERE id = $1 AND customer_id = $2 AND revoked_at IS NULL`,
      [id, caller.customerId],
    );
    if (!rows.length) throw new NotFoundProblem('API key');
    requirePermission(caller, 'api-keys.manage');
    await this.dataSource.transaction(async (m) => {
      await m.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [id]);
      await m.query(`UPDATE refresh_tokens SET revoked_at = now() WHERE api_key_id = $1 AND revoked_at IS NULL`, [id]);
      await this.audit.record(m, {
        actorId: caller.customerId,
        action: 'api-key.revoke',
        targetType: 'api-key',
        targetId: id,
        subjectPath: caller.path,
        changes: null,
      });
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
    const rows: Array<{ id: string; customer_id: string; secret_hash: string; auth_epoch: number; suspended: boolean }> =
      await this.dataSource.query(
        `SELECT k.id, k.customer_id, k.secret_hash, c.auth_epoch, ${pathSuspendedSql('c.path')} AS suspended
           FROM api_keys k JOIN customers c ON c.id = k.customer_id AND c.deleted_at IS NULL
          WHERE k.prefix = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())`,
        [match[1]],
      );
    const key = rows[0];
    if (!key) {
      await this.hasher.verifyNothing(match[2]);
      return null;
    }
    if (!(await this.hasher.verify(key.secret_hash, match[2]))) return null;
    if (key.suspended) return 'suspended';
    await this.dataSource.query(`UPDATE api_keys SET last_used_at = now() WHERE id = $1`, [key.id]);
    return { id: key.id, customerId: key.customer_id, authEpoch: key.auth_epoch };
  }
}
