import { ConflictProblem } from '../common/problem/problem';

/**
 * `409 external-id-taken` (SPEC §15): a live sibling customer, or a live account of the same
 * customer, already has this externalId. That row is visible to whoever may write here, so
 * it is named (`existingId`), e.g. for an integrator retrying a create.
 */
export const externalIdTaken = (existingId: string | undefined) =>
  new ConflictProblem(
    'external-id-taken',
    'External id taken',
    'Another live sub-customer of the same parent, or account of the same customer, already has this externalId (see existingId).',
    {
      ...(existingId ? { existingId } : {}),
      errors: [{ pointer: '/externalId', detail: 'externalId is already in use' }],
    },
  );
