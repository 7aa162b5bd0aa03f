import { TariffsRepositoryModule } from '../tariffs/tariffs-repository.module';
import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { CustomersController } from './customers.controller';
import { CustomersRepository } from './customers.repository';
import { CustomersService } from './customers.service';
import { MeController } from './me.controller';
import { MeService } from './me.service';
import { MeRepository } from './me.repository';

@Module({
  imports: [TariffsRepositoryModule, AuthModule],
  controllers: [CustomersController, MeController],
  providers: [CustomersRepository, CustomersService, MeService, MeRepository],
  exports: [CustomersRepository],
})
export class CustomersModule {}
