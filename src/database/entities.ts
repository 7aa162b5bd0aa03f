/** Every TypeORM entity, listed explicitly so that no glob depends on the runtime (ts or js). */
export const ENTITIES: Function[] = [];
