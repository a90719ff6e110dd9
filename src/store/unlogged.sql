-- Migration 5: a write that does not go through Tollgate (an operator's sqlite3 session) logs
-- no `changes` row, so every row it writes marks `unlogged`. A Tollgate write that finds the
-- mark logs itself as touching everything and clears it; a decision that finds it flushes its
-- caches. Tollgate's writer runs with triggers disabled (SQLITE_DBCONFIG_ENABLE_TRIGGER), so
-- only other tools set the mark. (The body never conflicts: an outer statement's conflict
-- policy would override an `OR IGNORE` here.)
CREATE TABLE unlogged (x INTEGER PRIMARY KEY CHECK (x = 1)) WITHOUT ROWID;
CREATE TRIGGER entities_insert_unlogged AFTER INSERT ON entities BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER entities_update_unlogged AFTER UPDATE ON entities BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER entities_delete_unlogged AFTER DELETE ON entities BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER entity_parents_insert_unlogged AFTER INSERT ON entity_parents BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER entity_parents_update_unlogged AFTER UPDATE ON entity_parents BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER entity_parents_delete_unlogged AFTER DELETE ON entity_parents BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER orgs_insert_unlogged AFTER INSERT ON orgs BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER orgs_update_unlogged AFTER UPDATE ON orgs BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER orgs_delete_unlogged AFTER DELETE ON orgs BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER members_insert_unlogged AFTER INSERT ON members BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER members_update_unlogged AFTER UPDATE ON members BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER members_delete_unlogged AFTER DELETE ON members BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER invitations_insert_unlogged AFTER INSERT ON invitations BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER invitations_update_unlogged AFTER UPDATE ON invitations BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER invitations_delete_unlogged AFTER DELETE ON invitations BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER workspaces_insert_unlogged AFTER INSERT ON workspaces BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER workspaces_update_unlogged AFTER UPDATE ON workspaces BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER workspaces_delete_unlogged AFTER DELETE ON workspaces BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER workspace_members_insert_unlogged AFTER INSERT ON workspace_members BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER workspace_members_update_unlogged AFTER UPDATE ON workspace_members BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER workspace_members_delete_unlogged AFTER DELETE ON workspace_members BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER roles_insert_unlogged AFTER INSERT ON roles BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER roles_update_unlogged AFTER UPDATE ON roles BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER roles_delete_unlogged AFTER DELETE ON roles BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER usage_insert_unlogged AFTER INSERT ON usage BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER usage_update_unlogged AFTER UPDATE ON usage BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER usage_delete_unlogged AFTER DELETE ON usage BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER counters_insert_unlogged AFTER INSERT ON counters BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER counters_update_unlogged AFTER UPDATE ON counters BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER counters_delete_unlogged AFTER DELETE ON counters BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER reservations_insert_unlogged AFTER INSERT ON reservations BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER reservations_update_unlogged AFTER UPDATE ON reservations BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
CREATE TRIGGER reservations_delete_unlogged AFTER DELETE ON reservations BEGIN INSERT INTO unlogged SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM unlogged); END;
