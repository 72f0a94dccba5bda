"""Officer certification registry: a POST board's system of record, served as GraphQL."""
