/**
 * The trigger function that announces a changed cached caller through
 * `canopy_caller_changed` (migration 1764200000000-CallerChanges) with the payload
 * `<prefix>:` + `OLD.<column>`. Applied migrations run it: what it returns must stay, byte for
 * byte, the SQL they ran (a different function is a new migration with its own SQL).
 */
export const callerChangedFunctionSql = (name: string, prefix: string, column: string): string => `
      CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM canopy_caller_changed('${prefix}:' || OLD.${column});
        RETURN NULL;
      END $$`;
