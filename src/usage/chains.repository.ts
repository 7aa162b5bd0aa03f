import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SqlParams } from '../database/sql';
import type { Tx } from '../database/writes';
import { pathNodeIdsSql } from '../tree/scope';
import { candidatePrefixes } from '../tariffs/rates/rate-rules';
import { RateTerms, TariffTerms } from './rating';

/** One party a call of an account charges: the account, or a customer on its path below the root. */
export interface ChainLevel {
  kind: 'account' | 'customer';
  id: string;
  /** Depth in the tree: a customer's own; an account's is its customer's + 1. */
  depth: number;
  baseCurrency: string;
  balance: string;
  creditLimit: string;
  /** The tariff the party is sold on (owned by its seller); null: none (an account without a tariff). */
  tariff: TariffTerms | null;
  /** The seller: the customer that owns the tariff and bills this party (an account's customer, a customer's parent). */
  seller: { id: string; depth: number; baseCurrency: string; timeZone: string };
}

/** An account and every party a call of it charges, from the account up to the root's direct sub-customer. */
export interface AccountChain {
  accountId: string;
  /** The account's customer, and its materialized path (a call is visible to it and everyone above). */
  customerId: string;
  customerPath: string;
  /** levels[0] is the account, levels[1] its customer, …, the last the root's direct sub-customer. */
  levels: ChainLevel[];
}

/** A rate asked for: the rate of `tariffId` that prices `number` at `at`. */
export interface RateWanted {
  tariffId: string;
  number: string;
  at: Date;
}

interface PartyRow {
  kind: 'account' | 'customer';
  id: string;
  account_id: string;
  node_id: string | null;
  parent_node: string | null;
  depth: number;
  path: string;
  base_currency: string;
  time_zone: string;
  balance: string;
  credit_limit: string;
  tariff_id: string | null;
  t_currency: string | null;
  t_connect_fee: string | null;
  t_free_seconds: number | null;
}

/**
 * What rating a call reads: an account's chain up the tree (each party with its tariff's
 * terms, its balance and its seller), and the rates that price a number at an instant.
 * Unscoped: the usage service checks that the account is in the poster's subtree; the
 * parties above the poster are read because they are charged, and never answered to it.
 */
@Injectable()
export class ChainsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * The chains of live accounts by account id (an account deleted or unknown is absent), in
   * one statement: each account, and every customer on its customer's path with its tariff.
   */
  async unscopedChainsOf(tx: Tx | null, accountIds: string[]): Promise<Map<string, AccountChain>> {
    const chains = new Map<string, AccountChain>();
    if (!accountIds.length) return chains;
    const params = new SqlParams();
    const rows: PartyRow[] = await (tx ?? this.dataSource).query(
      `WITH acc AS (
         SELECT a.id, a.customer_id, a.tariff_id, ab.balance, a.credit_limit, a.time_zone, c.path, c.depth
           FROM accounts a JOIN account_balances ab ON ab.account_id = a.id JOIN customers c ON c.id = a.customer_id
          WHERE a.id = ANY (${params.add(accountIds)}::uuid[]) AND a.deleted_at IS NULL
       )
       SELECT 'account' AS kind, acc.id, acc.id AS account_id, NULL::bigint AS node_id, NULL::bigint AS parent_node, acc.depth + 1 AS depth,
              acc.path, NULL::text AS base_currency, acc.time_zone, acc.balance, acc.credit_limit, acc.tariff_id,
              t.currency AS t_currency, t.connect_fee AS t_connect_fee, t.free_seconds AS t_free_seconds
         FROM acc LEFT JOIN tariffs t ON t.id = acc.tariff_id
       UNION ALL
       SELECT 'customer', x.id, acc.id, x.node_id, p.node_id, x.depth, x.path, x.base_currency, x.time_zone, xb.balance, x.credit_limit, x.tariff_id,
              t.currency, t.connect_fee, t.free_seconds
         FROM acc
         JOIN customers x ON x.node_id = ANY (${pathNodeIdsSql('acc.path')})
         JOIN customer_balances xb ON xb.customer_id = x.id
         LEFT JOIN customers p ON p.id = x.parent_id
         LEFT JOIN tariffs t ON t.id = x.tariff_id`,
      params.values,
    );
    const byAccount = new Map<string, PartyRow[]>();
    for (const row of rows) {
      const list = byAccount.get(row.account_id) ?? [];
      list.push(row);
      byAccount.set(row.account_id, list);
    }
    for (const [accountId, parties] of byAccount) {
      const account = parties.find((p) => p.kind === 'account')!;
      // Customers from the account's own up to the root.
      const customers = parties.filter((p) => p.kind === 'customer').sort((a, b) => b.depth - a.depth);
      const tariff = (p: PartyRow): TariffTerms | null =>
        p.tariff_id && p.t_currency ? { id: p.tariff_id, currency: p.t_currency, connectFee: p.t_connect_fee!, freeSeconds: p.t_free_seconds! } : null;
      const sellerOf = (c: PartyRow) => ({ id: c.id, depth: c.depth, baseCurrency: c.base_currency, timeZone: c.time_zone });
      const owner = customers[0];
      const levels: ChainLevel[] = [
        {
          kind: 'account',
          id: account.id,
          depth: account.depth,
          baseCurrency: owner.base_currency,
          balance: account.balance,
          creditLimit: account.credit_limit,
          tariff: tariff(account),
          seller: sellerOf(owner),
        },
      ];
      for (let i = 0; i < customers.length - 1; i++) {
        const c = customers[i];
        levels.push({
          kind: 'customer',
          id: c.id,
          depth: c.depth,
          baseCurrency: c.base_currency,
          balance: c.balance,
          creditLimit: c.credit_limit,
          tariff: tariff(c),
          seller: sellerOf(customers[i + 1]),
        });
      }
      chains.set(accountId, { accountId, customerId: owner.id, customerPath: owner.path, levels });
    }
    return chains;
  }

  /**
   * For each rate wanted (in order), the rate that prices it, or undefined: in one
   * statement, each an index scan on (tariff_id, prefix, effective_from) over the number's
   * candidate prefixes, longest prefix first, then latest effectiveFrom at or before `at`.
   */
  async unscopedRatesFor(tx: Tx | null, wanted: RateWanted[]): Promise<Array<RateTerms | undefined>> {
    if (!wanted.length) return [];
    const params = new SqlParams();
    const rows: Array<{ ord: string; prefix: string | null; price: string; first_interval: number; next_interval: number; connect_fee: string; effective_from: Date }> = await (
      tx ?? this.dataSource
    ).query(
      `SELECT w.ord, r.prefix, r.price, r.first_interval, r.next_interval, r.connect_fee, r.effective_from
         FROM unnest(${params.add(wanted.map((w) => w.tariffId))}::uuid[], ${params.add(wanted.map((w) => candidatePrefixes(w.number).join(',')))}::text[],
                     ${params.add(wanted.map((w) => w.at.toISOString()))}::timestamptz[]) WITH ORDINALITY AS w(tariff_id, candidates, at, ord)
         CROSS JOIN LATERAL (
           SELECT * FROM rates x
            WHERE x.tariff_id = w.tariff_id AND x.prefix = ANY (string_to_array(w.candidates, ',')::varchar[]) AND x.effective_from <= w.at
            ORDER BY length(x.prefix) DESC, x.effective_from DESC LIMIT 1
         ) r`,
      params.values,
    );
    const found: Array<RateTerms | undefined> = new Array(wanted.length).fill(undefined);
    for (const r of rows) {
      found[Number(r.ord) - 1] = {
        prefix: r.prefix!,
        price: r.price,
        firstInterval: r.first_interval,
        nextInterval: r.next_interval,
        connectFee: r.connect_fee,
        effectiveFrom: r.effective_from,
      };
    }
    return found;
  }
}
