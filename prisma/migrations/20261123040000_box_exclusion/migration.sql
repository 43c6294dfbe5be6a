-- The non-overlap rule, re-encoded for speed. The GiST index over (context =, inet &&, int8range &&)
-- inserted slowly and, fed addresses in ascending order (as an export lists them), degenerated:
-- inet_ops' splits leave overlapping subtrees and every insert searched most of the index. An
-- R-tree over boxes splits well in any order. A box holds float8 coordinates, exact for integers
-- below 2^53, so a mapping becomes two boxes whose overlap is exactly "same context, a shared
-- address, a shared instant":
--   extent:   x = the address range: IPv4 as address - 2^32 (negative, so apart from IPv6),
--                 IPv6 as its top 53 bits;
--             y = context * 2^38 + time (times are below 2^38; an open end is 2^38 - 1).
--   low bits: IPv6 bits 53..104 and 105..127 (IPv4: the point (0,0)).
-- A CIDR block covers, in each slice of its bits, a single value, an aligned run, or everything,
-- so two blocks share an address exactly when their ranges meet in every slice.

-- The functions name only built-in functions: PostgreSQL 17 evaluates index expressions with
-- search_path = pg_catalog, where a function of ours would not be found. Bytes 5.. of inet_send
-- are the address, most significant first.
CREATE FUNCTION "ipdr_mapping_extent"("context_id" integer, "network" inet, "starttime" bigint, "endtime" bigint) RETURNS box
    IMMUTABLE PARALLEL SAFE LANGUAGE sql
    AS $$ SELECT box(
        point(CASE family("network")
                WHEN 4 THEN ("network" - '0.0.0.0'::inet) - 4294967296
                ELSE ('x' || encode(substring(inet_send("network") FROM 5 FOR 7), 'hex'))::bit(56)::bigint >> 3 END,
              ("context_id"::bigint << 38) + "starttime"),
        point(CASE family("network")
                WHEN 4 THEN (broadcast("network") - '0.0.0.0'::inet) - 4294967296
                ELSE ('x' || encode(substring(inet_send(broadcast("network")) FROM 5 FOR 7), 'hex'))::bit(56)::bigint >> 3 END,
              ("context_id"::bigint << 38) + coalesce("endtime", 274877906943))) $$;

-- IPv6 bits 53..104 come from bytes 6..13 (bits 48..111), bits 105..127 from bytes 13..15.
CREATE FUNCTION "ipdr_mapping_low_bits"("network" inet) RETURNS box
    IMMUTABLE PARALLEL SAFE LANGUAGE sql
    AS $$ SELECT CASE family("network") WHEN 4 THEN box(point(0, 0), point(0, 0)) ELSE box(
        point((('x' || encode(substring(inet_send("network") FROM 11 FOR 8), 'hex'))::bit(64)::bigint >> 7) & 4503599627370495,
              ('x' || encode(substring(inet_send("network") FROM 18 FOR 3), 'hex'))::bit(24)::bigint & 8388607),
        point((('x' || encode(substring(inet_send(broadcast("network")) FROM 11 FOR 8), 'hex'))::bit(64)::bigint >> 7) & 4503599627370495,
              ('x' || encode(substring(inet_send(broadcast("network")) FROM 18 FOR 3), 'hex'))::bit(24)::bigint & 8388607)) END $$;

-- context * 2^38 + time stays below 2^53 only for context ids below 2^15.
ALTER TABLE "contexts" ADD CONSTRAINT "contexts_id_range" CHECK ("id" BETWEEN 1 AND 32767);

ALTER TABLE "ipdr_customers_mapping" DROP CONSTRAINT "ipdr_customers_mapping_no_overlap";
ALTER TABLE "ipdr_customers_mapping" ADD CONSTRAINT "ipdr_customers_mapping_no_overlap" EXCLUDE USING gist (
    ipdr_mapping_extent("context_id", "network", "starttime", "endtime") WITH &&,
    ipdr_mapping_low_bits("network") WITH &&
);

-- Each foreign key is a check per inserted row. The composite key (customer, context) already
-- proves both that the customer exists and that the context is the customer's (which exists).
ALTER TABLE "ipdr_customers_mapping" DROP CONSTRAINT "ipdr_customers_mapping_context_id_fkey";
ALTER TABLE "ipdr_customers_mapping" DROP CONSTRAINT "ipdr_customers_mapping_ipdr_customer_id_fkey";
