import { Module } from '@nestjs/common';
import { CustomersModule } from '../customers/customers.module';
import { BalancesService } from './balances.service';
import { CustomerBalancesController } from './customer-balances.controller';
import { CustomerHolders } from './customer-holders';

@Module({
  imports: [CustomersModule],
  controllers: [CustomerBalancesController],
  providers: [BalancesService, CustomerHolders],
  exports: [BalancesService],
})
export class BalancesModule {}
