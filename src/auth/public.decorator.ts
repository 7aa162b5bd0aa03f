import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';

export const IS_PUBLIC = 'canopy:isPublic';
/** Marker read by buildOpenApiDocument to give the operation `security: []`. */
export const PUBLIC_EXTENSION = 'x-canopy-public';

/**
 * The guard is deny by default: a route needs no authentication only when it says so here.
 */
export const Public = () => applyDecorators(SetMetadata(IS_PUBLIC, true), ApiExtension(PUBLIC_EXTENSION, true));
