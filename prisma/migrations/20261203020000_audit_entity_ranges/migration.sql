-- A bulk creation (the CSV import) is audited by one event per run of consecutive ids it created,
-- instead of one event per record: entity_id is the run's first id and entity_id_last its last,
-- every id between them a record of entity_type that the event's statement created (runs are
-- split wherever another writer's id falls between). Writing an image per record cost the import
-- as much again as the records themselves. A record's image at creation is not lost: each later
-- change of it is an event with its before-image, so its image at creation is the before-image of
-- its first later event, or the record as stored now when it has none.
ALTER TABLE "audit_events"
    ADD COLUMN "entity_id_last" INTEGER,
    ADD CONSTRAINT "audit_events_entity_range_check" CHECK (
        "entity_id_last" IS NULL
        OR ("entity_id_last" >= "entity_id" AND "action" = 'create' AND "before" IS NULL AND "after" IS NULL)
    );

-- Which run holds an id: the few range events, by their last id (an id's run is the one whose
-- last id is the first at or above it, if that run starts at or below it).
CREATE INDEX "audit_events_entity_range_idx" ON "audit_events" ("context_id", "entity_type", "entity_id_last")
    WHERE "entity_id_last" IS NOT NULL;
