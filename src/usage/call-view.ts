import { Big, formatMoney } from '../common/money';
import { CallChargeDto, CallDto } from './dto/call.dto';
import { isoTime } from '../common/iso-time';

/** A call as stored (`calls`). */
export interface CallRow {
  id: string;
  call_id: string;
  account_id: string;
  customer_id: string;
  number: string;
  connect_time: Date;
  duration: number;
}

/** One party's charge as stored (`call_charges`). */
export interface ChargeRow {
  level: number;
  party_kind: 'account' | 'customer';
  party_id: string;
  party_depth: number;
  seller_id: string;
  tariff_id: string;
  prefix: string;
  price: string;
  billed_seconds: number;
  amount: string;
  currency: string;
  converted_amount: string;
  charged_currency: string;
  ledger_entry_id: string | null;
  revenue: string;
  seller_cost: string;
  seller_currency: string;
}

/**
 * Who looks at a call: a customer (its id and depth in the tree, and base currency), or an
 * account principal (`accountId`; its depth is the account level's, one below its customer).
 */
export interface CallViewer {
  customerId: string;
  depth: number;
  baseCurrency: string;
  accountId?: string | null;
}

/**
 * THE view of a call (SPEC §13), for every endpoint that answers one: the charges of the
 * parties in the viewer's subtree and of the viewer itself (all on the call's path, so: at
 * the viewer's depth or below), from the account up; and the viewer's revenue (the charge
 * of the party directly below it, the row it sold) and cost (its own charge), both in its
 * base currency as stored when the call was rated. Nothing of a level above the viewer
 * leaves here. `charges` may hold any subset of the call's rows that includes those.
 */
export function toCallView(viewer: CallViewer, call: CallRow, charges: ChargeRow[]): CallDto {
  const shown = charges.filter((c) => c.party_depth >= viewer.depth).sort((a, b) => a.level - b.level);
  const sold = charges.find((c) => c.seller_id === viewer.customerId);
  // An account principal sold nothing: its cost is its own charge, as charged to it.
  const own = viewer.accountId ? charges.find((c) => c.party_kind === 'account' && c.party_id === viewer.accountId) : undefined;
  const revenue = new Big(sold?.revenue ?? 0);
  const cost = new Big(own?.converted_amount ?? sold?.seller_cost ?? 0);
  return {
    id: call.id,
    callId: call.call_id,
    accountId: call.account_id,
    customerId: call.customer_id,
    number: call.number,
    connectTime: isoTime(call.connect_time),
    duration: call.duration,
    charges: shown.map(
      (c): CallChargeDto => ({
        party: { type: c.party_kind, id: c.party_id },
        tariffId: c.tariff_id,
        prefix: c.prefix,
        price: formatMoney(c.price),
        billedSeconds: c.billed_seconds,
        amount: formatMoney(c.amount),
        currency: c.currency,
        convertedAmount: formatMoney(c.converted_amount),
        chargedCurrency: c.charged_currency,
        ledgerEntryId: c.ledger_entry_id,
      }),
    ),
    viewer: {
      revenue: formatMoney(revenue),
      cost: formatMoney(cost),
      margin: formatMoney(revenue.minus(cost)),
      currency: own?.charged_currency ?? sold?.seller_currency ?? viewer.baseCurrency,
    },
  };
}
