import { DataSource } from 'typeorm';

export interface NewRoot {
  login: string;
  passwordHash: string;
  baseCurrency: string;
  permissions: readonly string[];
}

/**
 * The root customer's first start, before the app (and any caller) exists: unscoped by
 * nature. Built by hand on the database main.ts opened, not injected.
 */
export class RootCustomerRepository {
  constructor(private readonly dataSource: DataSource) {}

  async unscopedRootExists(): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(`SELECT 1 FROM customers WHERE parent_id IS NULL`);
    return rows.length > 0;
  }

  /** Inserts the root: its id, or none when another instance starting at once inserted it first (the unique root index). */
  async unscopedInsertRoot(root: NewRoot): Promise<Array<{ id: string }>> {
    return this.dataSource.query(
      `WITH next AS (SELECT nextval(pg_get_serial_sequence('customers', 'node_id')) AS node_id)
       INSERT INTO customers (node_id, parent_id, path, depth, name, time_zone, language, web_login, web_password_hash, base_currency, permissions)
       OVERRIDING SYSTEM VALUE
       SELECT node_id, NULL, '/' || node_id || '/', 0, 'Root', 'UTC', 'en', $1, $2, $3, $4 FROM next
       ON CONFLICT DO NOTHING
       RETURNING id`,
      [root.login, root.passwordHash, root.baseCurrency, root.permissions],
    );
  }
}
