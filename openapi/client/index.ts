import createClient, { type Client } from 'openapi-fetch';
import type { paths } from './schema';

export type { paths, components } from './schema';
export type CanopyClient = Client<paths>;

/** A typed client for the Canopy API, generated from openapi/openapi.json. */
export function createCanopyClient(baseUrl: string, accessToken?: string): CanopyClient {
  return createClient<paths>({
    baseUrl,
    headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : undefined,
  });
}
