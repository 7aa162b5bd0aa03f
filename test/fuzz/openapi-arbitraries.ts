import fc from 'fast-check';

/**
 * fast-check arbitraries for requests generated from openapi/openapi.json: valid-ish values
 * from each schema, and the hostile variants a contract fuzzer should throw at every endpoint.
 */
export type Schema = {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  nullable?: boolean;
  example?: unknown;
  allOf?: Schema[];
};

export interface Spec {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

export interface Operation {
  operationId: string;
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: Schema }>;
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
  security?: unknown[];
}

export function resolve(spec: Spec, schema: Schema): Schema {
  if (schema.$ref) return resolve(spec, spec.components.schemas[schema.$ref.split('/').pop()!]);
  if (schema.allOf?.length === 1) return resolve(spec, schema.allOf[0]);
  return schema;
}

const MONEY = fc
  .tuple(fc.integer({ min: 0, max: 100000 }), fc.integer({ min: 0, max: 99999999 }), fc.integer({ min: 0, max: 8 }))
  .map(([w, f, d]) => (d ? `${w}.${String(f).padStart(8, '0').slice(0, d)}` : String(w)));

export const HOSTILE_STRINGS = [
  '',
  ' ',
  'x'.repeat(5000),
  'a\u0000b',
  '\ud800',
  '😀'.repeat(40),
  'Ω≈ç√∫',
  '\u202e\u0645',
  "'; DROP TABLE customers; --",
  '../../etc/passwd',
  '%00',
  '1e309',
  '-1',
  '-0.00000001',
  '1.123456789',
  'NaN',
  'null',
];

export const HOSTILE_VALUES: unknown[] = [
  ...HOSTILE_STRINGS,
  null,
  true,
  0,
  -1,
  1.5,
  1e308,
  -12.5,
  [],
  {},
  [1, 2],
  { nested: { deep: [null] } },
];

export function validValue(spec: Spec, raw: Schema, depth = 0): fc.Arbitrary<unknown> {
  const schema = resolve(spec, raw);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case 'string': {
      if (schema.format === 'uuid') return fc.uuid();
      if (schema.format === 'date-time') return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
      if (schema.pattern?.includes('\\d{1,8}')) return MONEY;
      if (schema.example !== undefined) return fc.oneof(fc.constant(schema.example), fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40) }));
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40) });
    }
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -10, max: schema.maximum ?? 1000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -10, max: schema.maximum ?? 1000, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return depth > 3 ? fc.constant([]) : fc.array(validValue(spec, schema.items ?? {}, depth + 1), { maxLength: 4 });
    case 'object':
    default: {
      if (!schema.properties || depth > 3) return fc.constant({});
      const required = new Set(schema.required ?? []);
      const entries = Object.entries(schema.properties).map(([name, prop]) => {
        const arb = validValue(spec, prop, depth + 1);
        return [name, required.has(name) ? arb : fc.option(arb, { nil: undefined, freq: 2 })] as const;
      });
      return fc.record(Object.fromEntries(entries)).map((o) =>
        Object.fromEntries(Object.entries(o as Record<string, unknown>).filter(([, v]) => v !== undefined)),
      );
    }
  }
}

/** A body: valid, or one of the hostile mutations of a valid one. */
export function bodyArbitrary(spec: Spec, schema: Schema): fc.Arbitrary<unknown> {
  const valid = validValue(spec, schema);
  const props = Object.keys(resolve(spec, schema).properties ?? {});
  const hostile = fc.constantFrom(...HOSTILE_VALUES);
  return fc.oneof(
    valid,
    // a field replaced by a hostile value
    fc.tuple(valid, fc.constantFrom(...(props.length ? props : ['x'])), hostile).map(([b, k, v]) => ({ ...(b as object), [k]: v })),
    // a required field missing
    fc.tuple(valid, fc.constantFrom(...(props.length ? props : ['x']))).map(([b, k]) => {
      const copy = { ...(b as Record<string, unknown>) };
      delete copy[k];
      return copy;
    }),
    // an unknown field
    valid.map((b) => ({ ...(b as object), unexpectedField: 'mass assignment' })),
    // not an object at all
    hostile,
  );
}

export function queryArbitrary(spec: Spec, op: Operation): fc.Arbitrary<Record<string, string>> {
  const params = (op.parameters ?? []).filter((p) => p.in === 'query');
  if (!params.length) return fc.constant({});
  const entries = params.map((p) => {
    const valid = validValue(spec, p.schema ?? { type: 'string' }).map((v) => String(v));
    const value = fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_STRINGS, 'garbage-cursor', '0', '201', '-5') });
    return [p.name, fc.option(value, { nil: undefined })] as const;
  });
  return fc.record(Object.fromEntries(entries)).map((o) =>
    Object.fromEntries(Object.entries(o as Record<string, string | undefined>).filter(([, v]) => v !== undefined)) as Record<string, string>,
  );
}
