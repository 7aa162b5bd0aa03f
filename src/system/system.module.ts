import { Global, Module } from '@nestjs/common';
import { RoutingGroupsRepository } from './routing-groups.repository';
import { RoutingGroupsService } from './routing-groups.service';
import { RoutingGroupsController, SystemSettingsController } from './system.controller';
import { SystemSettingsRepository } from './system-settings.repository';
import { SystemSettingsService } from './system-settings.service';

@Global()
@Module({
  controllers: [SystemSettingsController, RoutingGroupsController],
  providers: [SystemSettingsRepository, SystemSettingsService, RoutingGroupsRepository, RoutingGroupsService],
  exports: [SystemSettingsService, RoutingGroupsService],
})
export class SystemModule {}
