-- Feldera SQL
-- Create a table and fill it with 5 randomly generated records.
CREATE TABLE t0 (id INT NOT NULL, sort VARCHAR NOT NULL, s VARCHAR) WITH (
'connectors' = '[{
"transport": {
"name": "datagen",
"config": {
"plan": [{ "rate": 1, "limit": 5 }]
}
}
}]'
);
-- Create a view and attach a DynamoDB output connector to it.
CREATE MATERIALIZED VIEW v1 WITH (
'connectors' = '[{
"index": "v1_idx",
"transport": {
"name": "dynamodb_output",
"config": {
"table": "feldera_out",
"region": "us-east-1"
}
}
}]'
) AS SELECT * FROM t0;
-- Index v1 using (id, sort) as a composite key.
-- Both columns must correspond to the DynamoDB table's key schema.
CREATE INDEX v1_idx ON v1(id, sort);
