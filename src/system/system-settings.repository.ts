import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { RowLock } from '../database/access';
import { returnedRows } from '../database/sql';
import type { Tx } from '../database/writes';

export interface SettingsRow {
  default_time_zone: string | null;
  default_language: string | null;
  default_base_currency: string | null;
  default_permissions: string[];
  max_depth: number;
  version: number;
  updated_at: Date;
}

/** The fields a change names; `undefined` leaves one as it is, `null` clears a nullable one. */
export interface SettingsChange {
  defaultTimeZone?: string | null;
  defaultLanguage?: string | null;
  defaultBaseCurrency?: string | null;
  defaultPermissions?: string[];
  maxDepth?: number;
}

const COLUMNS = `default_time_zone, default_language, default_base_currency, default_permissions, max_depth, version, updated_at`;

/**
 * Every SQL text about the one row of system-wide settings. They belong to no subtree (the
 * service gates them with system.read / system.write; rules read them for everyone), hence
 * the `unscoped` names.
 */
@Injectable()
export class SystemSettingsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async unscopedGet(tx?: Tx, lock: RowLock = ''): Promise<SettingsRow> {
    const rows: SettingsRow[] = await (tx ?? this.dataSource.manager).query(`SELECT ${COLUMNS} FROM system_settings ${lock}`);
    return rows[0];
  }

  async unscopedUpdate(tx: Tx, change: SettingsChange): Promise<SettingsRow> {
    const has = (k: keyof SettingsChange) => change[k] !== undefined;
    const rows = returnedRows<SettingsRow>(
      await tx.query(
        `UPDATE system_settings SET
           default_time_zone = CASE WHEN $1 THEN $2 ELSE default_time_zone END,
           default_language = CASE WHEN $3 THEN $4 ELSE default_language END,
           default_base_currency = CASE WHEN $5 THEN $6 ELSE default_base_currency END,
           default_permissions = COALESCE($7, default_permissions),
           max_depth = COALESCE($8, max_depth),
           version = version + 1, updated_at = now()
         RETURNING ${COLUMNS}`,
        [
          has('defaultTimeZone'),
          change.defaultTimeZone ?? null,
          has('defaultLanguage'),
          change.defaultLanguage ?? null,
          has('defaultBaseCurrency'),
          change.defaultBaseCurrency ?? null,
          change.defaultPermissions ?? null,
          change.maxDepth ?? null,
        ],
      ),
    );
    return rows[0];
  }
}
