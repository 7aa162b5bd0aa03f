import { Module } from '@nestjs/common';
import { CustomersModule } from '../customers/customers.module';
import { RateDeckService } from './rates/rate-deck.service';
import { RatesController } from './rates/rates.controller';
import { RatesRepository } from './rates/rates.repository';
import { RatesService } from './rates/rates.service';
import { TariffsController } from './tariffs.controller';
import { TariffsRepositoryModule } from './tariffs-repository.module';
import { TariffsService } from './tariffs.service';

@Module({
  imports: [CustomersModule, TariffsRepositoryModule],
  controllers: [TariffsController, RatesController],
  providers: [TariffsService, RatesRepository, RatesService, RateDeckService],
  exports: [TariffsService],
})
export class TariffsModule {}
