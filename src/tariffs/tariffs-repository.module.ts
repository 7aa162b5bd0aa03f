import { Module } from '@nestjs/common';
import { TariffsRepository } from './tariffs.repository';

/**
 * The tariffs repository on its own, for modules that check a tariff without depending on the
 * tariffs feature (customers and accounts: "a tariff owned by customer X", `isOwnedBy`).
 */
@Module({ providers: [TariffsRepository], exports: [TariffsRepository] })
export class TariffsRepositoryModule {}
