-- The platform's own body of the registry's key trigger function, put back after a restore: the dump's copy
-- (whatever its body, SECURITY or SET clauses) is replaced, keeping its owner and the trigger that calls it.
-- The same body as create_registry.sql, which creates it once and leaves it alone afterwards.
CREATE OR REPLACE FUNCTION vectorops.collection_registry_default_key() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
    NEW.collection_key := coalesce(NEW.collection_key, NEW.collection);
    RETURN NEW;
END $$;
