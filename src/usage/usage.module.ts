import { Module } from '@nestjs/common';
import { BalancesModule } from '../balances/balances.module';
import { CurrenciesModule } from '../currencies/currencies.module';
import { CallsController } from './calls.controller';
import { CallsRepository } from './calls.repository';
import { CallsService } from './calls.service';
import { ChainsRepository } from './chains.repository';

/**
 * Usage (SPEC §13): calls posted and rated at every level of the tree, their views, usage
 * reports, statements and call authorization. Rating is `rating.ts` (pure); a call's view
 * is `call-view.ts`; what rating reads is `chains.repository.ts`.
 */
@Module({
  imports: [BalancesModule, CurrenciesModule],
  controllers: [CallsController],
  providers: [ChainsRepository, CallsRepository, CallsService],
})
export class UsageModule {}
