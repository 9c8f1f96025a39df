-- The rows removed were dangling references; there is nothing to restore.
SELECT 1;
