import { Injectable } from '@nestjs/common';
import { appendOpeningBalances } from '../balances/ledger';
import { Big, formatMoney } from '../common/money';
import { ConflictProblem, ValidationProblem } from '../common/problem/problem';
import { CustomersRepository } from '../customers/customers.repository';
import { requireAccess } from '../database/access';
import { Writes } from '../database/writes';
import { RoutingGroupsService } from '../system/routing-groups.service';
import { TariffsRepository } from '../tariffs/tariffs.repository';
import { Caller } from '../tree/caller';
import { hashPins, randomPin } from './account-batches.pins';
import { AccountBatchesRepository } from './account-batches.repository';
import { accountSettings, requireCreateRights, tariffNotOwned } from './accounts.service';
import { AccountBatchDto, CreateAccountBatchDto, PIN_LENGTH, SEQUENCE_DIGITS } from './dto/account-batch.dto';

const usernameTaken = (username: string, pointer: string) =>
  new ConflictProblem('username-taken', 'Username taken', 'Another live account already uses this username.', {
    username,
    errors: [{ pointer, detail: `${username} is already in use` }],
  });

/** `count` usernames: the prefix, then the numbers from `first`, zero-padded to at least 6 digits. */
export function numberedUsernames(prefix: string, first: bigint, count: number): string[] {
  const names = new Array<string>(count);
  for (let i = 0; i < count; i++) names[i] = prefix + (first + BigInt(i)).toString().padStart(SEQUENCE_DIGITS, '0');
  return names;
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

    // No connection is held while hashing (see account-batches.pins.ts for the hash).
    const pins = Array.from({ length: input.count }, () => randomPin(pinLength));
    const hashes = await hashPins(pins);

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
      const settings = accountSettings(input, customer, balance, creditLimit);
      const auditAfter = {
        customerId: customer.id,
        tariffId: settings.tariffId,
        timeZone: settings.timeZone,
        language: settings.language,
        creditLimit: formatMoney(creditLimit),
        lowBalanceThreshold: settings.lowBalanceThreshold === null ? null : formatMoney(settings.lowBalanceThreshold),
        maxSessions: settings.maxSessions,
        status: settings.status,
        routingGroupId: settings.routingGroupId,
        balance: formatMoney(balance),
        webPassword: '***',
        voipPassword: '***',
      };
      const created = await this.batches.insertBatch(
        caller,
        customer.id,
        { usernames, webPasswordHashes: hashes, voipPasswords: pins, ...settings },
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
