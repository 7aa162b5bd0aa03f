import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { assertVersion } from '../common/etag';
import { ForbiddenProblem } from '../common/problem/problem';
import { returnedRows } from '../database/sql';
import { Permission } from '../permissions/permission.catalogue';
import { Caller, requirePermission } from '../tree/caller';
import { SystemSettingsDto, UpdateSystemSettingsDto } from './dto/system.dto';

interface SettingsRow {
  default_time_zone: string | null;
  default_language: string | null;
  default_base_currency: string | null;
  default_permissions: string[];
  max_depth: number;
  version: number;
  updated_at: Date;
}

export interface SystemSettings {
  defaultTimeZone: string | null;
  defaultLanguage: string | null;
  defaultBaseCurrency: string | null;
  defaultPermissions: string[];
  maxDepth: number;
}

const toDto = (row: SettingsRow): SystemSettingsDto => ({
  defaultTimeZone: row.default_time_zone,
  defaultLanguage: row.default_language,
  defaultBaseCurrency: row.default_base_currency?.trim() ?? null,
  defaultPermissions: row.default_permissions,
  maxDepth: row.max_depth,
  version: row.version,
  updatedAt: row.updated_at.toISOString(),
});

/** The system-wide parameters (one row), the root's unless delegated with system.*. */
@Injectable()
export class SystemSettingsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  /** For rules (customer creation): no permission needed to be governed by the settings. */
  async current(manager: EntityManager = this.dataSource.manager): Promise<SystemSettings> {
    const rows: SettingsRow[] = await manager.query(`SELECT * FROM system_settings`);
    return toDto(rows[0]);
  }

  async get(caller: Caller): Promise<SystemSettingsDto> {
    requirePermission(caller, 'system.read');
    const rows: SettingsRow[] = await this.dataSource.query(`SELECT * FROM system_settings`);
    return toDto(rows[0]);
  }

  async update(caller: Caller, input: UpdateSystemSettingsDto, expectedVersion?: number): Promise<SystemSettingsDto> {
    requirePermission(caller, 'system.write');
    // Nobody puts into the default set a right it does not hold itself (SPEC §8), as with grants.
    for (const permission of input.defaultPermissions ?? []) {
      if (!caller.permissions.has(permission as Permission)) throw new ForbiddenProblem(permission);
    }
    return this.dataSource.transaction(async (m) => {
      const before: SettingsRow[] = await m.query(`SELECT * FROM system_settings FOR UPDATE`);
      assertVersion(expectedVersion, before[0].version);
      const has = (k: keyof UpdateSystemSettingsDto) => input[k] !== undefined;
      const rows = returnedRows<SettingsRow>(
        await m.query(
          `UPDATE system_settings SET
             default_time_zone = CASE WHEN $1 THEN $2 ELSE default_time_zone END,
             default_language = CASE WHEN $3 THEN $4 ELSE default_language END,
             default_base_currency = CASE WHEN $5 THEN $6 ELSE default_base_currency END,
             default_permissions = COALESCE($7, default_permissions),
             max_depth = COALESCE($8, max_depth),
             version = version + 1, updated_at = now()
           RETURNING *`,
          [
            has('defaultTimeZone'),
            input.defaultTimeZone ?? null,
            has('defaultLanguage'),
            input.defaultLanguage ?? null,
            has('defaultBaseCurrency'),
            input.defaultBaseCurrency ?? null,
            input.defaultPermissions ? [...new Set(input.defaultPermissions)] : null,
            input.maxDepth ?? null,
          ],
        ),
      );
      const after = toDto(rows[0]);
      await this.audit.record(m, {
        actorId: caller.customerId,
        action: 'system-settings.update',
        targetType: 'system-settings',
        targetId: null,
        // Visible to the one who changed them and to everyone above (the root at least).
        subjectPath: caller.path,
        changes: { before: { ...toDto(before[0]) }, after: { ...after } },
      });
      return after;
    });
  }
}
