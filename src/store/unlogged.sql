-- Migration 5: a write that does not go through Tollgate (an operator's sqlite3 session) logs
-- no `changes` row, so triggers on every data table (created, and recreated if missing, at
-- every open: see `Store::open`) mark `unlogged`. A Tollgate write that finds the mark logs
-- itself as touching everything and clears it; a decision that finds it flushes its caches.
-- Tollgate's writer runs with triggers disabled (SQLITE_DBCONFIG_ENABLE_TRIGGER), so only
-- other tools set the mark. `meta.store_id` names this store's change log: a file restored
-- from another store over this one brings another log, which no process may read as its own.
CREATE TABLE unlogged (x INTEGER PRIMARY KEY CHECK (x = 1)) WITHOUT ROWID;
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO meta (k, v) VALUES ('store_id', lower(hex(randomblob(16))));
