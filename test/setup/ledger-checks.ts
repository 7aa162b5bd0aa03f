import type { DataSource } from 'typeorm';

/**
 * The holders (customers' and accounts' balance rows) whose balance differs from the sum of
 * their ledger entries: none, under any concurrency (SPEC §6).
 */
export async function holdersOffTheirLedgers(dataSource: DataSource): Promise<Array<{ id: string }>> {
  return dataSource.query(
    `SELECT b.customer_id AS id FROM customer_balances b LEFT JOIN ledger_entries e ON e.customer_id = b.customer_id
      GROUP BY b.customer_id, b.balance HAVING b.balance <> COALESCE(sum(e.converted_amount), 0)
     UNION ALL
     SELECT b.account_id FROM account_balances b LEFT JOIN ledger_entries e ON e.account_id = b.account_id
      GROUP BY b.account_id, b.balance HAVING b.balance <> COALESCE(sum(e.converted_amount), 0)`,
  );
}
