-- Migration 4: the parents of every stored entity, keyed by parent (what a workspace holds)
-- and by child (an entity's own parents), filled from the entities already stored.
CREATE TABLE entity_parents (
    ptype TEXT NOT NULL,
    pid   TEXT NOT NULL,
    etype TEXT NOT NULL,
    eid   TEXT NOT NULL,
    PRIMARY KEY (ptype, pid, etype, eid)
) WITHOUT ROWID;
CREATE INDEX entity_parents_by_child ON entity_parents (etype, eid);
INSERT OR IGNORE INTO entity_parents (ptype, pid, etype, eid)
SELECT COALESCE(json_extract(p.value, '$.type'), json_extract(p.value, '$.__entity.type')),
       COALESCE(json_extract(p.value, '$.id'), json_extract(p.value, '$.__entity.id')),
       e.etype, e.eid
FROM entities e, json_each(e.json, '$.parents') p
WHERE COALESCE(json_extract(p.value, '$.type'), json_extract(p.value, '$.__entity.type')) IS NOT NULL
  AND COALESCE(json_extract(p.value, '$.id'), json_extract(p.value, '$.__entity.id')) IS NOT NULL;
