import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseIdempotencyKey, REPLAYED_HEADER } from '../common/idempotency/idempotency.service';
import { ProblemBody, ReplayedProblem } from '../common/problem/problem';
import { Caller } from '../tree/caller';
import { BalanceHolderFinder } from './balance-holders';
import { BalancesService } from './balances.service';
import { operationInput } from './batch-input';
import { LedgerEntryDto } from './dto/balance-operation.dto';

export const IDEMPOTENCY_KEY_HEADER_DOC = {
  name: 'Idempotency-Key',
  required: true,
  description:
    'Required. The same key with the same body replays the first response (with `Idempotent-Replayed: true`); with another body it is a 422; while the first is still running, a 409. Kept at least 24 hours.',
};

/**
 * The HTTP edge of a balance operation, for customers and accounts alike: the key from its
 * header, the body validated, and the outcome as an answer. A refusal (new or replayed) is its stored problem.
 */
export async function answerOperation(
  balances: BalancesService,
  holders: BalanceHolderFinder,
  caller: Caller,
  id: string,
  raw: unknown,
  idempotencyKey: string | undefined,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<LedgerEntryDto> {
  const body = await operationInput(raw);
  const key = parseIdempotencyKey(idempotencyKey, true)!;
  const path = request.url.split('?')[0];
  const result = await balances.operate(caller, holders, id, body, key, path);
  const headers: Record<string, string> = result.replayed ? { [REPLAYED_HEADER]: 'true' } : {};
  if (result.response.status >= 400) {
    throw new ReplayedProblem(result.response.body as ProblemBody, headers);
  }
  void reply.headers(headers);
  return result.response.body as LedgerEntryDto;
}
