DROP TABLE identity_provider_counter;
--bun:split
DROP TABLE identity_provider_changes;
--bun:split
DROP TABLE identity_provider_audiences;
--bun:split
DROP TABLE identity_providers;
