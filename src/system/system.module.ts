import { Global, Module } from '@nestjs/common';
import { RoutingGroupsService } from './routing-groups.service';
import { RoutingGroupsController, SystemSettingsController } from './system.controller';
import { SystemSettingsService } from './system-settings.service';

@Global()
@Module({
  controllers: [SystemSettingsController, RoutingGroupsController],
  providers: [SystemSettingsService, RoutingGroupsService],
  exports: [SystemSettingsService, RoutingGroupsService],
})
export class SystemModule {}
