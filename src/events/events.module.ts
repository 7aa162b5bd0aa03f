import { Module } from '@nestjs/common';
import { EventsController } from './events.controller';
import { EventsRepository } from './events.repository';
import { EventsService } from './events.service';
import { EventPruner } from './pruner';
import { EventRelay } from './relay';

@Module({ controllers: [EventsController], providers: [EventsRepository, EventsService, EventRelay, EventPruner], exports: [EventsRepository] })
export class EventsModule {}
