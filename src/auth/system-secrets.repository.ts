import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** Secrets the instances on one database share (the generated JWT secret). Not customer data: no scope. */
@Injectable()
export class SystemSecretsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The secret with this name, stored as `candidate` when none is yet (the first instance wins). */
  async unscopedGetOrCreate(name: string, candidate: string): Promise<string> {
    await this.dataSource.query(`INSERT INTO system_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, [name, candidate]);
    const rows: Array<{ value: string }> = await this.dataSource.query(`SELECT value FROM system_secrets WHERE name = $1`, [name]);
    return rows[0].value;
  }
}
