-- Snowflake objects of the S3 loader: warehouse, database, schema, the loader's role and its
-- grants, the landing table RAW_DATA, the audit table FILE_LOADS and the dynamic table
-- DAILY_SUMMARY.
--
-- Run as a role that may create warehouses, databases and roles and grant privileges
-- (ACCOUNTADMIN, or SYSADMIN together with SECURITYADMIN):
--     snow sql -f sql/setup.sql
-- Safe to run again: nothing that holds data is replaced. Only DAILY_SUMMARY, which Snowflake
-- recomputes from RAW_DATA, is recreated, so a changed definition takes effect.

CREATE WAREHOUSE IF NOT EXISTS LOADER_WH
    WAREHOUSE_SIZE = 'XSMALL'
    AUTO_SUSPEND = 60
    AUTO_RESUME = TRUE
    INITIALLY_SUSPENDED = TRUE
    COMMENT = 'S3 loader: batch loads and DAILY_SUMMARY refreshes';

CREATE DATABASE IF NOT EXISTS LOADER_DB;
CREATE SCHEMA IF NOT EXISTS LOADER_DB.RAW;

-- One row per loaded record. The loader's column list must match this one exactly (a Go test
-- compares them). Tables that routes send files to are created with the same columns.
CREATE TABLE IF NOT EXISTS LOADER_DB.RAW.RAW_DATA (
    PAYLOAD            VARIANT       COMMENT 'the record as loaded (PARSE_JSON of its text)',
    RECORD_NUMBER      NUMBER        COMMENT '1-based position of the record in its file',
    S3_BUCKET          VARCHAR,
    S3_KEY             VARCHAR,
    S3_VERSION_ID      VARCHAR,
    S3_ETAG            VARCHAR,
    S3_SIZE            NUMBER,
    S3_SEQUENCER       VARCHAR,
    S3_EVENT_TIME      TIMESTAMP_TZ,
    UPLOADER_PRINCIPAL VARCHAR,
    SOURCE_IP          VARCHAR,
    LOAD_ID            VARCHAR       COMMENT 'Step Functions execution name of the load',
    LOADED_AT          TIMESTAMP_TZ
);

-- One row per S3 object (bucket and key): the version whose rows RAW_DATA holds. The loader
-- reads it to keep an older version from replacing a newer one, and it is the audit of who
-- loaded what and when.
CREATE TABLE IF NOT EXISTS LOADER_DB.RAW.FILE_LOADS (
    S3_BUCKET      VARCHAR,
    S3_KEY         VARCHAR,
    S3_VERSION_ID  VARCHAR,
    S3_ETAG        VARCHAR,
    S3_SEQUENCER   VARCHAR,
    S3_SIZE        NUMBER,
    ROWS_LOADED    NUMBER,
    LOAD_ID        VARCHAR,
    LOADED_AT      TIMESTAMP_TZ,
    LOADED_BY_USER VARCHAR,
    LOADED_BY_ROLE VARCHAR
);

-- Per-day figures, kept within a minute of RAW_DATA by Snowflake. The day is the event's own
-- date (its timestamp field), not the load date, so late files land on the right day.
CREATE OR REPLACE DYNAMIC TABLE LOADER_DB.RAW.DAILY_SUMMARY
    TARGET_LAG = '1 minute'
    WAREHOUSE = LOADER_WH
AS
SELECT
    TO_DATE(PAYLOAD:timestamp::TIMESTAMP_TZ) AS EVENT_DATE,
    COUNT(DISTINCT S3_BUCKET || '/' || S3_KEY || '/' || COALESCE(S3_VERSION_ID, '')) AS FILES_LOADED,
    COUNT(*) AS TOTAL_EVENTS,
    SUM(CASE WHEN PAYLOAD:action::VARCHAR = 'view' THEN 1 ELSE 0 END) AS VIEWS,
    SUM(CASE WHEN PAYLOAD:action::VARCHAR = 'click' THEN 1 ELSE 0 END) AS CLICKS,
    SUM(CASE WHEN PAYLOAD:action::VARCHAR = 'add_to_cart' THEN 1 ELSE 0 END) AS ADD_TO_CARTS,
    SUM(CASE WHEN PAYLOAD:action::VARCHAR = 'purchase' THEN 1 ELSE 0 END) AS PURCHASES,
    SUM(CASE WHEN PAYLOAD:action::VARCHAR = 'refund' THEN 1 ELSE 0 END) AS REFUNDS,
    SUM(CASE WHEN PAYLOAD:action::VARCHAR = 'purchase' THEN PAYLOAD:amount::NUMBER(18, 2) ELSE 0 END) AS PURCHASE_AMOUNT,
    SUM(CASE WHEN PAYLOAD:action::VARCHAR = 'refund' THEN PAYLOAD:amount::NUMBER(18, 2) ELSE 0 END) AS REFUND_AMOUNT
FROM LOADER_DB.RAW.RAW_DATA
GROUP BY EVENT_DATE;

-- The loader's role holds exactly what a load needs.
CREATE ROLE IF NOT EXISTS LOADER_ROLE COMMENT = 'S3 loader Lambda (workload identity)';
GRANT USAGE ON WAREHOUSE LOADER_WH TO ROLE LOADER_ROLE;
GRANT USAGE ON DATABASE LOADER_DB TO ROLE LOADER_ROLE;
GRANT USAGE ON SCHEMA LOADER_DB.RAW TO ROLE LOADER_ROLE;
-- A load uploads its batch to the loader user's own stage (@~), which takes no grant: every
-- user owns one. It copies the files into a session-scoped TEMPORARY table, and creating any
-- table, temporary ones included, takes CREATE TABLE on the schema. No CREATE STAGE: the
-- user stage makes a named or temporary stage unnecessary.
GRANT CREATE TABLE ON SCHEMA LOADER_DB.RAW TO ROLE LOADER_ROLE;
-- SELECT reads the event time of a loaded version; DELETE removes the rows of a version
-- that a newer one (or a reload of the same one) replaces.
GRANT SELECT, INSERT, DELETE ON TABLE LOADER_DB.RAW.RAW_DATA TO ROLE LOADER_ROLE;
-- The load MERGEs into FILE_LOADS (reads, inserts, updates) and never deletes from it.
GRANT SELECT, INSERT, UPDATE ON TABLE LOADER_DB.RAW.FILE_LOADS TO ROLE LOADER_ROLE;
-- For each table a route adds, grant the same as on RAW_DATA:
--   GRANT SELECT, INSERT, DELETE ON TABLE LOADER_DB.RAW.<TABLE> TO ROLE LOADER_ROLE;
