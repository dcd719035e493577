"""Analytics (issue 16): the Athena named queries in analytics/*.sql and `payops report`."""
