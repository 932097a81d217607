-- Removes everything setup.sql and lambda_wid.sql created, data included. There is no undo
-- beyond Snowflake's Time Travel on the dropped database.
--     snow sql -f sql/cleanup.sql

DROP USER IF EXISTS LAMBDA_LOADER_BOT;
DROP DATABASE IF EXISTS LOADER_DB;
DROP ROLE IF EXISTS LOADER_ROLE;
DROP WAREHOUSE IF EXISTS LOADER_WH;
