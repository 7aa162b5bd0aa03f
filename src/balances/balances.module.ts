import { Module } from '@nestjs/common';
import { AccountsModule } from '../accounts/accounts.module';
import { CustomersModule } from '../customers/customers.module';
import { AccountBalancesController } from './account-balances.controller';
import { AccountHolders } from './account-holders';
import { BalancesService } from './balances.service';
import { BatchBalancesController } from './batch-balances.controller';
import { CustomerBalancesController } from './customer-balances.controller';
import { CustomerHolders } from './customer-holders';
import { LedgerRepository } from './ledger.repository';

@Module({
  imports: [CustomersModule, AccountsModule],
  controllers: [CustomerBalancesController, AccountBalancesController, BatchBalancesController],
  providers: [BalancesService, LedgerRepository, CustomerHolders, AccountHolders],
  exports: [BalancesService],
})
export class BalancesModule {}
