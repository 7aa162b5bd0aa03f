import { TariffsRepositoryModule } from '../tariffs/tariffs-repository.module';
import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { CustomersModule } from '../customers/customers.module';
import { AccountBatchesController } from './account-batches.controller';
import { AccountBatchesRepository } from './account-batches.repository';
import { AccountBatchesService } from './account-batches.service';
import { AccountsController } from './accounts.controller';
import { AccountsRepository } from './accounts.repository';
import { AccountsService } from './accounts.service';

@Module({
  imports: [TariffsRepositoryModule, AuthModule, CustomersModule],
  controllers: [AccountsController, AccountBatchesController],
  providers: [AccountsRepository, AccountsService, AccountBatchesRepository, AccountBatchesService],
  exports: [AccountsRepository],
})
export class AccountsModule {}
