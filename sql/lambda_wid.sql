-- The Snowflake user the loader Lambda logs in as. It has no password, key or token: it
-- trusts the Lambda's IAM role through workload identity federation, so the role's
-- temporary AWS credentials are the only credentials there are.
--
-- Run after setup.sql, as a role that may create users and grant roles (ACCOUNTADMIN or
-- SECURITYADMIN), with the ARN of the Lambda's execution role:
--     snow sql -f sql/lambda_wid.sql -D role_arn=arn:aws:iam::123456789012:role/loader-role
-- Safe to run again, and the way to repair a user that trusts the wrong role: the ALTER
-- below sets the trusted ARN whether or not the CREATE found the user already there.

CREATE USER IF NOT EXISTS LAMBDA_LOADER_BOT
    TYPE = SERVICE
    WORKLOAD_IDENTITY = (TYPE = AWS ARN = '<% role_arn %>')
    DEFAULT_ROLE = LOADER_ROLE
    DEFAULT_WAREHOUSE = LOADER_WH
    DEFAULT_NAMESPACE = LOADER_DB.RAW
    COMMENT = 'S3 loader Lambda; authenticates as its IAM role';

ALTER USER LAMBDA_LOADER_BOT SET WORKLOAD_IDENTITY = (TYPE = AWS ARN = '<% role_arn %>');
ALTER USER LAMBDA_LOADER_BOT SET DEFAULT_ROLE = LOADER_ROLE;

GRANT ROLE LOADER_ROLE TO USER LAMBDA_LOADER_BOT;
