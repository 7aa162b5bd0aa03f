/**
 * Every migration, in order. `npm run migration:generate` writes a new file here; add its
 * class to this list (an explicit list works the same under ts-node, jest and compiled js).
 */
import { Init1764100000000 } from './1764100000000-Init';
import { CustomerTree1764100100000 } from './1764100100000-CustomerTree';
import { Rates1764100200000 } from './1764100200000-Rates';
import { ExchangeRates1764100300000 } from './1764100300000-ExchangeRates';
import { Ledger1764100400000 } from './1764100400000-Ledger';
import { AccountsPermissionsSystem1764100500000 } from './1764100500000-AccountsPermissionsSystem';
import { FastPostings1764100600000 } from './1764100600000-FastPostings';
import { HotUpdates1764100700000 } from './1764100700000-HotUpdates';
import { IdempotencyClaims1764100800000 } from './1764100800000-IdempotencyClaims';
import { CurrencyCodes1764100900000 } from './1764100900000-CurrencyCodes';
import { CallerChanges1764200000000 } from './1764200000000-CallerChanges';
import { NameSearch1764200100000 } from './1764200100000-NameSearch';
import { Usage1764300000000 } from './1764300000000-Usage';
import { Statements1764300200000 } from './1764300200000-Statements';
import { UsageViews1764300300000 } from './1764300300000-UsageViews';
import { Events1764400000000 } from './1764400000000-Events';
import { Webhooks1764400100000 } from './1764400100000-Webhooks';
import { CallerLanguage1764500000000 } from './1764500000000-CallerLanguage';
import { LedgerReferences1764500200000 } from './1764500200000-LedgerReferences';
import { AccountLogins1764500400000 } from './1764500400000-AccountLogins';
import { UsageRollups1764500600000 } from './1764500600000-UsageRollups';
import { BalanceRows1764600000000 } from './1764600000000-BalanceRows';
import { LedgerOutboxProjection1764700000000 } from './1764700000000-LedgerOutboxProjection';
import { BalanceRowsVacuum1764800000000 } from './1764800000000-BalanceRowsVacuum';
import { LedgerEventsByRelay1764900000000 } from './1764900000000-LedgerEventsByRelay';
import { AllOrNone1765000000000 } from './1765000000000-AllOrNone';
import { EventsRetention1765100000000 } from './1765100000000-EventsRetention';
import { LedgerReferencesByRule1765200000000 } from './1765200000000-LedgerReferencesByRule';
import { LedgerEventsRenderedOnRead1765200100000 } from './1765200100000-LedgerEventsRenderedOnRead';
import { StatisticsWhereRead1765300000000 } from './1765300000000-StatisticsWhereRead';
import { BalanceAuditRenderedOnRead1765300100000 } from './1765300100000-BalanceAuditRenderedOnRead';
import { OutboxTriggerPlans1764700100000 } from './1764700100000-OutboxTriggerPlans';
import { CustomerAccountFields1764500100000 } from './1764500100000-CustomerAccountFields';

export const MIGRATIONS: Function[] = [
  Init1764100000000,
  CustomerTree1764100100000,
  Rates1764100200000,
  ExchangeRates1764100300000,
  Ledger1764100400000,
  AccountsPermissionsSystem1764100500000,
  FastPostings1764100600000,
  HotUpdates1764100700000,
  IdempotencyClaims1764100800000,
  CurrencyCodes1764100900000,
  CallerChanges1764200000000,
  NameSearch1764200100000,
  Usage1764300000000,
  Statements1764300200000,
  UsageViews1764300300000,
  Events1764400000000,
  Webhooks1764400100000,
  CallerLanguage1764500000000,
  CustomerAccountFields1764500100000,
  LedgerReferences1764500200000,
  AccountLogins1764500400000,
  UsageRollups1764500600000,
  BalanceRows1764600000000,
  LedgerOutboxProjection1764700000000,
  OutboxTriggerPlans1764700100000,
  BalanceRowsVacuum1764800000000,
  LedgerEventsByRelay1764900000000,
  AllOrNone1765000000000,
  EventsRetention1765100000000,
  LedgerReferencesByRule1765200000000,
  LedgerEventsRenderedOnRead1765200100000,
  StatisticsWhereRead1765300000000,
  BalanceAuditRenderedOnRead1765300100000,
];
