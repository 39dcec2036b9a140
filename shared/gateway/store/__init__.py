"""State in DynamoDB: the table layout, key records, rate-limit counters, audit."""
