import { Module } from '@nestjs/common';
import { AccountsModule } from '../accounts/accounts.module';
import { BalancesModule } from '../balances/balances.module';
import { CurrenciesModule } from '../currencies/currencies.module';
import { CustomersModule } from '../customers/customers.module';
import { AuthorizeController } from './authorize.controller';
import { AuthorizeService } from './authorize.service';
import { CallViewsRepository } from './call-views.repository';
import { CallViewsService } from './call-views.service';
import { CallsController } from './calls.controller';
import { CallsRepository } from './calls.repository';
import { CallsService } from './calls.service';
import { ChainsRepository } from './chains.repository';
import { StatementsController } from './statements.controller';
import { StatementsRepository } from './statements.repository';
import { StatementsService } from './statements.service';

/**
 * Usage (SPEC §13): calls posted and rated at every level of the tree, their views, usage
 * reports, statements and call authorization. Rating is `rating.ts` (pure); a call's view
 * is `call-view.ts`; what rating reads is `chains.repository.ts`.
 */
@Module({
  imports: [BalancesModule, CurrenciesModule, CustomersModule, AccountsModule],
  controllers: [CallsController, AuthorizeController, StatementsController],
  providers: [ChainsRepository, CallsRepository, CallsService, CallViewsRepository, CallViewsService, AuthorizeService, StatementsService, StatementsRepository],
})
export class UsageModule {}
