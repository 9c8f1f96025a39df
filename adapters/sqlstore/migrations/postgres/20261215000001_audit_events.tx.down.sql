DROP TABLE audit_events;
--bun:split
DROP FUNCTION audit_events_immutable();
