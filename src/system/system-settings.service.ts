import { Injectable } from '@nestjs/common';
import { assertVersion } from '../common/etag';
import { ForbiddenProblem } from '../common/problem/problem';
import { Tx, Writes } from '../database/writes';
import { Permission } from '../permissions/permission.catalogue';
import { Caller, requirePermission } from '../tree/caller';
import { SystemSettingsDto, UpdateSystemSettingsDto } from './dto/system.dto';
import { SettingsRow, SystemSettingsRepository } from './system-settings.repository';
import { isoTime } from '../common/iso-time';

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
  defaultBaseCurrency: row.default_base_currency,
  defaultPermissions: row.default_permissions,
  maxDepth: row.max_depth,
  version: row.version,
  updatedAt: isoTime(row.updated_at),
});

/** The system-wide parameters (one row), the root's unless delegated with system.*. */
@Injectable()
export class SystemSettingsService {
  constructor(
    private readonly settings: SystemSettingsRepository,
    private readonly writes: Writes,
  ) {}

  /** For rules (customer creation): no permission needed to be governed by the settings. */
  async current(manager?: Tx): Promise<SystemSettings> {
    return toDto(await this.settings.unscopedGet(manager));
  }

  async get(caller: Caller): Promise<SystemSettingsDto> {
    requirePermission(caller, 'system.read');
    return toDto(await this.settings.unscopedGet());
  }

  async update(caller: Caller, input: UpdateSystemSettingsDto, expectedVersion?: number): Promise<SystemSettingsDto> {
    requirePermission(caller, 'system.write');
    // Nobody puts into the default set a right it does not hold itself (SPEC §8), as with grants.
    for (const permission of input.defaultPermissions ?? []) {
      if (!caller.permissions.has(permission as Permission)) throw new ForbiddenProblem(permission);
    }
    return this.writes.change(caller.customerId, async (tx) => {
      const before = await this.settings.unscopedGet(tx, 'FOR UPDATE');
      assertVersion(expectedVersion, before.version);
      const after = toDto(
        await this.settings.unscopedUpdate(tx, {
          ...input,
          defaultPermissions: input.defaultPermissions ? [...new Set(input.defaultPermissions)] : undefined,
        }),
      );
      return {
        result: after,
        audit: {
          action: 'system-settings.update',
          targetType: 'system-settings',
          targetId: null,
          // Visible to the one who changed them and to everyone above (the root at least).
          subjectPath: caller.path,
          before: { ...toDto(before) },
          after: { ...after },
        },
      };
    });
  }
}
