import { Query, types } from 'pg';
import type { Client, Pool, PoolClient, QueryResultRow } from 'pg';

/**
 * A statement of the hot path whose result's shape is remembered per connection.
 *
 * node-postgres sends Parse (once per connection for a named statement), Bind, Describe,
 * Execute and Sync for every extended-protocol query, and rebuilds the result's field list,
 * its type parsers and its empty row from the RowDescription that Describe brings back, every
 * time (`Result.addFields`), after copying the query's config object property by property
 * (`cloneQueryConfig`). For the same SQL text on the same connection that description never
 * changes (the columns are named in the text; a named statement whose result type changed is
 * refused by PostgreSQL itself), so from the second run on a connection this query sends
 * Bind/Execute/Sync (plus Parse when unnamed) without Describe, and hands the Result the
 * field list, parsers and empty row kept from the first run. Rows are built by a parser
 * compiled for the shape (`compileRowParser`): the same values under the same names as
 * node-postgres's, through the same parsers (the connection's own type overrides).
 *
 * A row whose column count differs from the kept description (a schema changed under a
 * running connection) forgets the description and fails the query, which the next run
 * describes afresh.
 */

/** What `Result.addFields` builds from a RowDescription, and the row parser compiled for it. */
interface Shape {
  fields: unknown[];
  parsers: unknown[];
  empty: Record<string, null>;
  parse?: RowParser;
}

type RowParser = (values: Array<string | null>) => Record<string, unknown>;
type FieldDescription = { name: string; format?: string };

/** node-postgres's parser for text-like types (text, varchar, uuid, …): the value as it came. */
const AS_IS = types.getTypeParser(25, 'text');

/**
 * A row parser for one result shape: an object literal with the columns' names, each value
 * through its column's parser (text-like columns as they came, NULL as null). node-postgres's
 * own copies an empty row and stores each value under a computed name (a generic keyed store a
 * column) and emits a 'row' event per row: 6-7 % of a subtree page. The same values, the same
 * names (a later column of the same name wins, as in node-postgres). Undefined (node-postgres
 * parses) for a binary column or a column named `__proto__`, which a literal would not keep as
 * a property. The names are written as JSON string literals.
 */
function compileRowParser(fields: FieldDescription[], parsers: unknown[]): RowParser | undefined {
  if (fields.some((f) => (f.format ?? 'text') !== 'text' || f.name === '__proto__')) return undefined;
  const parts = fields.map((f, i) => `${JSON.stringify(f.name)}: ${parsers[i] === AS_IS ? `v[${i}]` : `v[${i}] === null ? null : p${i}(v[${i}])`}`);
  const names = fields.map((_, i) => `p${i}`);
  const make = new Function(...names, `'use strict'; return function parseRow(v) { return { ${parts.join(', ')} }; };`) as (...parsers: unknown[]) => RowParser;
  return make(...parsers);
}

/** The parts of node-postgres's Query, Result and Connection this class reaches (pg 8.x, pinned). */
interface PgResult {
  rows: unknown[];
  fields: unknown[];
  _parsers: unknown[];
  _prebuiltEmptyResultObject: Record<string, null>;
}
interface PgConnection {
  parse(message: { text: string; name?: string; types?: unknown }): void;
  bind(message: { portal: string; statement?: string; values?: unknown[]; binary?: boolean; valueMapper: unknown }): void;
  close(message: { type: 'S'; name?: string }): void;
  execute(message: { portal: string; rows?: number }): void;
  sync(): void;
  submittedNamedStatements: Record<string, string>;
}
interface PgQuery {
  text: string;
  name?: string;
  values?: unknown[];
  types?: unknown;
  portal: string;
  binary?: boolean;
  rows?: number;
  callback?: (error: Error | null, result?: { rows: unknown[] }) => void;
  _result: PgResult;
  _accumulateRows: boolean;
  hasBeenParsed(connection: PgConnection): boolean;
  handleError(error: Error, connection: PgConnection): void;
  _getRows(connection: PgConnection, rows?: number): void;
}

/** Per connection: statement key → the shape of its result. */
const shapes = new WeakMap<PgConnection, Map<string, Shape>>();
const { prepareValue } = require('pg/lib/utils') as { prepareValue: unknown };

type Internal = PgQuery & { _canceledDueToError: Error | false };
const base = Query.prototype as unknown as {
  prepare(this: unknown, connection: PgConnection): void;
  handleCommandComplete(this: unknown, message: unknown, connection: PgConnection): void;
  handleRowDescription(this: unknown, message: unknown): void;
  handleDataRow(this: unknown, message: unknown): void;
};

/**
 * Transaction control sent in the same round trip as a statement: `begin`, BEGIN before it;
 * `commit`, COMMIT after it. Both go as extended-protocol messages before the one Sync, so
 * PostgreSQL runs them in order and stops at the first error: a failed statement is never
 * committed (its transaction is left failed, to be rolled back), and the answer comes once,
 * after the COMMIT. Their own completions are not part of the result.
 */
export interface Pipelined {
  begin?: boolean;
  commit?: boolean;
}

/** One transaction-control command as unnamed extended-protocol messages (no Sync). */
function control(connection: PgConnection, text: 'BEGIN' | 'COMMIT'): void {
  connection.parse({ text });
  connection.bind({ portal: '', values: [], valueMapper: prepareValue });
  connection.execute({ portal: '' });
}

class ShapedQuery extends Query {
  /** The connection this run describes on (no kept shape), or runs on with a kept one. */
  private connection?: PgConnection;
  private kept = false;
  /** The compiled row parser, once the shape is known (kept, or described in this run). */
  private parse?: RowParser;
  /** Command completions seen in this run (BEGIN's and COMMIT's are not the statement's). */
  private completions = 0;

  /** `key`: the statement's name, or for an unnamed statement the name its text would have. */
  constructor(
    private readonly key: string,
    text: string,
    values: unknown[],
    name: string | undefined,
    private readonly pipelined: Pipelined = {},
  ) {
    super(text, values); // a string text: node-postgres does not copy a config object
    if (name) (this as unknown as Internal).name = name;
  }

  /** Called by node-postgres's `submit` for every extended-protocol run. */
  prepare(connection: PgConnection): void {
    const self = this as unknown as Internal;
    this.connection = connection;
    if (this.pipelined.begin) control(connection, 'BEGIN');
    const shape = shapes.get(connection)?.get(this.key);
    if (!shape) return base.prepare.call(this, connection);
    // node-postgres's prepare, without Describe.
    if (!self.hasBeenParsed(connection)) {
      connection.parse({ text: self.text, name: self.name, types: self.types });
      if (self.name) connection.submittedNamedStatements[self.name] = self.text;
    }
    try {
      connection.bind({ portal: self.portal, statement: self.name, values: self.values, binary: self.binary, valueMapper: prepareValue });
    } catch (error) {
      connection.close({ type: 'S', name: self.name });
      connection.sync();
      self.handleError(error as Error, connection);
      return;
    }
    this.kept = true;
    this.parse = shape.parse;
    self._result.fields = shape.fields;
    self._result._parsers = shape.parsers;
    self._result._prebuiltEmptyResultObject = shape.empty;
    self._accumulateRows = true;
    self._getRows(connection, self.rows);
  }

  /** node-postgres's, with COMMIT (when pipelined) between the statement's Execute and the Sync. */
  _getRows(connection: PgConnection, rows?: number): void {
    if (rows) throw new Error('a shaped query reads its whole result');
    connection.execute({ portal: (this as unknown as Internal).portal });
    if (this.pipelined.commit) control(connection, 'COMMIT');
    connection.sync();
  }

  handleCommandComplete(message: unknown, connection: PgConnection): void {
    // BEGIN's completion comes first, COMMIT's after the statement's: neither is the result's.
    if (this.completions++ !== (this.pipelined.begin ? 1 : 0)) return;
    base.handleCommandComplete.call(this, message, connection);
  }

  handleRowDescription(message: unknown): void {
    base.handleRowDescription.call(this, message);
    const connection = this.connection;
    if (!connection) return;
    const result = (this as unknown as Internal)._result;
    let kept = shapes.get(connection);
    if (!kept) shapes.set(connection, (kept = new Map()));
    this.parse = compileRowParser(result.fields as FieldDescription[], result._parsers);
    kept.set(this.key, { fields: result.fields, parsers: result._parsers, empty: result._prebuiltEmptyResultObject, parse: this.parse });
  }

  handleDataRow(message: { fields: unknown[] }): void {
    const self = this as unknown as Internal;
    if (this.kept && message.fields.length !== self._result.fields.length) {
      // A kept description that no longer fits: forget it and fail this run (the next describes).
      this.kept = false;
      if (this.connection) shapes.get(this.connection)?.delete(this.key);
      self._canceledDueToError = new Error(
        `statement ${this.key} returned ${message.fields.length} columns where this connection had seen ${self._result.fields.length}: run it again`,
      );
      return;
    }
    const parse = this.parse;
    if (!parse) return base.handleDataRow.call(this, message);
    // node-postgres's handleDataRow with the compiled parser, and no 'row' event (nobody listens).
    if (self._canceledDueToError) return;
    let row: Record<string, unknown>;
    try {
      row = parse(message.fields as Array<string | null>);
    } catch (error) {
      self._canceledDueToError = error as Error;
      return;
    }
    self._result.rows.push(row);
  }
}

/**
 * Runs `text` on the pool (a connection taken and given back), on a connection held for a
 * transaction or on a connection of its own (PointReads), as a named prepared statement when `name` is given, else unnamed (planned for
 * its values); `key` names its text for the kept result shape. Returns the rows.
 */
export function shapedQuery<T extends QueryResultRow>(
  runner: Pool | PoolClient | Client,
  key: string,
  text: string,
  values: unknown[],
  name?: string,
  pipelined?: Pipelined,
): Promise<T[]> {
  const query = new ShapedQuery(key, text, values, name, pipelined) as unknown as Query & Internal;
  return new Promise<T[]>((resolve, reject) => {
    const done = (error: Error | null | undefined, result?: { rows: unknown[] }) => (error ? reject(error) : resolve(result!.rows as T[]));
    if (!('release' in runner)) {
      (runner.query as unknown as (query: Query, values: undefined, callback: typeof done) => void)(query, undefined, done);
    } else {
      query.callback = done;
      runner.query(query);
    }
  });
}
