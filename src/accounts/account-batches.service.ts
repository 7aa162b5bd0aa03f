import { Injectable } from '@nestjs/common';
import argon2 from 'argon2';
import { randomInt } from 'node:crypto';
import { appendOpeningBalances } from '../balances/ledger';
import { Big, formatMoney } from '../common/money';
import { ConflictProblem, ValidationProblem } from '../common/problem/problem';
import { CustomersRepository } from '../customers/customers.repository';
import { requireAccess } from '../database/access';
import { Writes } from '../database/writes';
import { RoutingGroupsService } from '../system/routing-groups.service';
import { TariffsRepository } from '../tariffs/tariffs.repository';
import { Caller, requirePermission } from '../tree/caller';
import { AccountBatchesRepository } from './account-batches.repository';
import { AccountBatchDto, CreateAccountBatchDto, PIN_LENGTH, SEQUENCE_DIGITS } from './dto/account-batch.dto';

/**
 * The cost of a card PIN's web-password hash: argon2id like every password, in the same
 * encoded form (`$argon2id$v=19$m=256,p=1,t=2$salt$hash`, a random 16-byte salt each), so
 * whatever verifies passwords (`PasswordHasher.verify`, which reads the cost from the hash)
 * verifies a PIN with no change; but at 256 KiB and 2 passes instead of `PASSWORD_HASH_*`
 * (19 MiB, 2 passes: ~100 ms a hash, 10,000 would take minutes). What it trades: an offline
 * guess costs ~0.5 ms instead of ~50 ms, so an 8-digit PIN (10^8) falls to a stolen hash in
 * about 14 core-hours instead of ~2 core-months. It costs card accounts nothing real: their
 * PIN is also their VoIP password, which the accounts table holds as SIP digest needs it
 * (as `voipPassword` always is), so whoever can read hashes can read the PIN itself.
 */
export const PIN_HASH_OPTIONS = { type: argon2.argon2id as 2, memoryCost: 256, timeCost: 2, parallelism: 1 } as const;

/** Hashes in flight at once: enough to keep libuv's 4 threads busy, few enough that other requests' work is not queued behind 10,000. */
const HASHES_IN_FLIGHT = 4;

const usernameTaken = (username: string, pointer: string) =>
  new ConflictProblem('username-taken', 'Username taken', 'Another live account already uses this username.', {
    username,
    errors: [{ pointer, detail: `${username} is already in use` }],
  });
const tariffNotOwned = () =>
  new ValidationProblem([{ pointer: '/tariffId', detail: 'tariffId must name a tariff owned by the account’s customer' }]);

/** A random PIN of `length` digits (leading zeros kept), from the operating system's CSPRNG. */
export function randomPin(length: number): string {
  return String(randomInt(0, 10 ** length)).padStart(length, '0');
}

/** `count` usernames: the prefix, then the numbers from `first`, zero-padded to at least 6 digits. */
export function numberedUsernames(prefix: string, first: bigint, count: number): string[] {
  const names = new Array<string>(count);
  for (let i = 0; i < count; i++) names[i] = prefix + (first + BigInt(i)).toString().padStart(SEQUENCE_DIGITS, '0');
  return names;
}

async function hashAll(pins: readonly string[]): Promise<string[]> {
  const hashes = new Array<string>(pins.length);
  let next = 0;
  const worker = async () => {
    while (next < pins.length) {
      const i = next++;
      hashes[i] = await argon2.hash(pins[i], PIN_HASH_OPTIONS);
    }
  };
  await Promise.all(Array.from({ length: Math.min(HASHES_IN_FLIGHT, pins.length) }, worker));
  return hashes;
}

/** accounts.create, and balances.operate for a non-zero opening balance (SPEC §6), as for one account. */
function requireCreateRights(caller: Caller, input: CreateAccountBatchDto): void {
  requirePermission(caller, 'accounts.create');
  if (input.balance !== undefined && !new Big(input.balance).eq(0)) requirePermission(caller, 'balances.operate');
}

/**
 * Prepaid cards (SPEC §15): many accounts of one customer at once, each with a generated
 * username and a random PIN as its VoIP and web password, all or none, one opening ledger
 * entry each. The PINs are in the answer only (never stored in clear but as the VoIP
 * password, never audited, never logged).
 */
@Injectable()
export class AccountBatchesService {
  constructor(
    private readonly writes: Writes,
    private readonly batches: AccountBatchesRepository,
    private readonly customers: CustomersRepository,
    private readonly tariffs: TariffsRepository,
    private readonly routingGroups: RoutingGroupsService,
  ) {}

  async create(caller: Caller, customerId: string, input: CreateAccountBatchDto): Promise<AccountBatchDto> {
    const balance = new Big(input.balance ?? '0');
    const creditLimit = new Big(input.creditLimit ?? '0');
    const pinLength = input.pinLength ?? PIN_LENGTH.default;
    const clashPointer = input.firstNumber === undefined ? '/usernamePrefix' : '/firstNumber';
    // The cheap checks come before the expensive hashing (SPEC §11), and again in the transaction below.
    await requireAccess(this.customers, caller, customerId, { what: 'customer' });
    requireCreateRights(caller, input);
    if (balance.plus(creditLimit).lt(0)) throw new ValidationProblem([{ pointer: '/balance', detail: 'balance may not be below -creditLimit' }]);
    await this.writes.unauditedTransaction(async (tx) => {
      if (!(await this.tariffs.isOwnedBy(caller, input.tariffId, customerId, tx))) throw tariffNotOwned();
      if (input.routingGroupId) await this.routingGroups.assertExists(input.routingGroupId, '/routingGroupId', tx);
      if (input.firstNumber !== undefined) {
        const taken = await this.batches.unscopedFirstTaken(numberedUsernames(input.usernamePrefix, BigInt(input.firstNumber), input.count), tx);
        if (taken) throw usernameTaken(taken, clashPointer);
      }
    });

    // No connection is held while hashing.
    const pins = Array.from({ length: input.count }, () => randomPin(pinLength));
    const hashes = await hashAll(pins);

    return this.writes.change(caller.customerId, async (tx) => {
      // FOR SHARE: the customer cannot be deleted while its accounts are being added.
      const customer = await requireAccess(this.customers, caller, customerId, { tx, lock: 'FOR SHARE', what: 'customer' });
      requireCreateRights(caller, input);
      if (!(await this.tariffs.isOwnedBy(caller, input.tariffId, customer.id, tx))) throw tariffNotOwned();
      if (input.routingGroupId) await this.routingGroups.assertExists(input.routingGroupId, '/routingGroupId', tx);
      await this.batches.unscopedLockPrefix(input.usernamePrefix, tx);
      let first = BigInt(input.firstNumber ?? 1);
      if (input.firstNumber === undefined) {
        const highest = await this.batches.unscopedHighestNumber(input.usernamePrefix, tx);
        if (highest !== null) first = BigInt(highest) + 1n;
      }
      const usernames = numberedUsernames(input.usernamePrefix, first, input.count);
      if (usernames[usernames.length - 1].length > 64) {
        throw new ValidationProblem([{ pointer: '/usernamePrefix', detail: 'the numbers after this prefix would make usernames longer than 64 characters' }]);
      }
      const auditAfter = {
        customerId: customer.id,
        tariffId: input.tariffId,
        timeZone: input.timeZone ?? customer.time_zone,
        language: input.language ?? customer.language,
        creditLimit: formatMoney(creditLimit),
        lowBalanceThreshold: input.lowBalanceThreshold == null ? null : formatMoney(input.lowBalanceThreshold),
        maxSessions: input.maxSessions ?? 1,
        status: input.status ?? 'active',
        routingGroupId: input.routingGroupId ?? null,
        balance: formatMoney(balance),
        webPassword: '***',
        voipPassword: '***',
      };
      const created = await this.batches.insertBatch(
        caller,
        customer.id,
        {
          usernames,
          webPasswordHashes: hashes,
          voipPasswords: pins,
          tariffId: input.tariffId,
          timeZone: auditAfter.timeZone,
          language: auditAfter.language,
          balance: balance.toFixed(8),
          creditLimit: creditLimit.toFixed(8),
          lowBalanceThreshold: input.lowBalanceThreshold ?? null,
          maxSessions: auditAfter.maxSessions,
          status: auditAfter.status,
          routingGroupId: auditAfter.routingGroupId,
        },
        auditAfter,
        tx,
      );
      if (created.length !== usernames.length) {
        // Taken meanwhile (by an account created outside any batch): the whole batch is refused.
        const made = new Set(created.map((card) => card.username));
        const taken = usernames.find((name) => !made.has(name));
        throw usernameTaken(taken ?? usernames[0], clashPointer);
      }
      const ids = new Map(created.map((card) => [card.username, card.id]));
      const items = usernames.map((username, i) => ({ id: ids.get(username)!, username, pin: pins[i] }));
      await appendOpeningBalances(
        tx,
        'account',
        items.map((card) => card.id),
        balance,
        customer.base_currency,
        caller.customerId,
      );
      return {
        result: { count: items.length, items },
        audit: {
          action: 'account-batch.create',
          targetType: 'customer',
          targetId: customer.id,
          subjectPath: customer.path,
          after: {
            count: items.length,
            usernamePrefix: input.usernamePrefix,
            firstUsername: usernames[0],
            lastUsername: usernames[usernames.length - 1],
            pinLength,
            tariffId: input.tariffId,
            balance: formatMoney(balance),
          },
        },
      };
    });
  }
}
